"""Bad inputs raise VideoError with a message a person understands, and leave no output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

from executor.engine.video import (
    CorruptInput,
    EmptyInput,
    NoFrames,
    NotAVideo,
    VideoError,
    VideoWriter,
    copy_video,
    probe,
)


def assert_no_output(folder: Path, name: str = "out.mp4") -> None:
    assert not (folder / name).exists()
    assert not [p for p in folder.iterdir() if ".partial" in p.name]


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    source.write_text("hello " * 200)
    with pytest.raises(NotAVideo, match="input is not a video"):
        copy_video(source, tmp_path / "out.mp4")
    assert_no_output(tmp_path)


def test_zero_byte_file_is_reported_as_empty(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    source.touch()
    with pytest.raises(EmptyInput, match=r"input is empty \(0 bytes\)"):
        copy_video(source, tmp_path / "out.mp4")
    assert_no_output(tmp_path)


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    source = tmp_path / "in.m4a"
    with av.open(str(source), mode="w") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate, frame.pts = 48000, 0
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(NotAVideo, match="no video stream found"):
        probe(source)


def test_container_without_frames_is_reported(tmp_path: Path) -> None:
    # AVI keeps a declared video stream even when it holds no frames.
    source = tmp_path / "in.avi"
    with av.open(str(source), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    with pytest.raises(NoFrames, match="input has no frames"):
        copy_video(source, tmp_path / "out.mp4")
    assert_no_output(tmp_path)


def test_file_truncated_in_the_middle_names_the_frame(clip: Callable[..., Path]) -> None:
    # Our own output puts the index first (faststart), so half a file still opens.
    whole = clip("whole.mp4", frames=48)
    source = whole.with_name("in.mp4")
    copy_video(whole, source, measure=False)
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptInput, match=r"input is truncated or corrupted at frame \d+"):
        copy_video(source, source.with_name("out.mp4"))
    assert_no_output(source.parent)


def test_file_truncated_before_its_index_is_reported(clip: Callable[..., Path]) -> None:
    # FFmpeg's own mp4 output puts the index last: half a file has none.
    source = clip(frames=48)
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="truncated/corrupted"):
        copy_video(source, source.with_name("out.mp4"))
    assert_no_output(source.parent)


def test_error_while_writing_removes_the_partial_output(clip: Callable[..., Path]) -> None:
    from executor.engine.video import VideoReader

    source = clip(frames=24)
    out = source.with_name("out.mp4")
    with (
        pytest.raises(RuntimeError, match="boom"),
        VideoReader(source) as reader,
        VideoWriter.like(reader.info, out) as writer,
    ):
        for frame in reader:
            writer.write(frame)
            if frame.index == 10:
                raise RuntimeError("boom")
    assert_no_output(source.parent)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="input not found"):
        probe(tmp_path / "nope.mp4")
