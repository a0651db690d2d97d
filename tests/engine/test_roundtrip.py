"""Decode -> encode round trips keep timing, metadata and audio, and lose almost nothing."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pytest

from executor.engine.video import UnsupportedInput, VideoReader, copy_video, measure_psnr, probe
from tests.engine.conftest import frame_times, packets


def test_round_trip_keeps_frame_count_rate_and_size(clip: Callable[..., Path]) -> None:
    source = clip(width=176, height=96, frames=30, fps=30)
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    before, after = probe(source), probe(out)
    assert after.frame_count == before.frame_count == 30
    assert after.frame_rate == before.frame_rate
    assert (after.width, after.height) == (before.width, before.height)


def test_round_trip_keeps_every_frame_timestamp(clip: Callable[..., Path]) -> None:
    source = clip(frames=20, fps=25)
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    assert frame_times(out) == frame_times(source)


def test_round_trip_keeps_variable_frame_rate_timestamps(clip: Callable[..., Path]) -> None:
    pts = [0, 33, 66, 120, 150, 250, 260, 270, 400, 433, 500, 700]
    source = clip(frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    with VideoReader(out) as reader:
        times = [round(frame.time, 6) for frame in reader]
    assert times == [p / 1000 for p in pts]


def test_round_trip_keeps_rotation(clip: Callable[..., Path]) -> None:
    source = clip(rotation=90)
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    assert probe(out).rotation == 90


def test_round_trip_keeps_colour_tags(clip: Callable[..., Path]) -> None:
    source = clip(colour=(2, 1, 1, 1))
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    assert probe(out).colour == probe(source).colour


def test_round_trip_copies_audio_packets_unchanged(clip: Callable[..., Path]) -> None:
    source = clip(audio=True, frames=48)
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    assert probe(out).audio_codec == probe(source).audio_codec == "aac"
    assert packets(out, "audio") == packets(source, "audio")


def test_round_trip_of_a_video_without_audio_has_no_audio(clip: Callable[..., Path]) -> None:
    source = clip(audio=False)
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    with av.open(str(out)) as container:
        assert not container.streams.audio
    assert not probe(out).has_audio


@pytest.mark.parametrize("via", ["yuv", "rgb"])
def test_untouched_round_trip_scores_at_least_45_db(clip: Callable[..., Path], via: str) -> None:
    source = clip(width=320, height=180, frames=12)
    report = copy_video(source, source.with_name(f"out_{via}.mp4"), via=via)  # type: ignore[arg-type]
    assert report.psnr_db is not None and report.psnr_db >= 45.0


def naive_rgb_copy(source: Path, target: Path) -> None:
    """What code gets by default: to_ndarray('rgb24') / from_ndarray + reformat('yuv420p')."""
    with av.open(str(source)) as inp, av.open(str(target), mode="w") as out:
        in_stream = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=in_stream.average_rate, options={"crf": "18"})
        stream.width, stream.height, stream.pix_fmt = in_stream.width, in_stream.height, "yuv420p"
        for frame in inp.decode(in_stream):
            rgb = frame.to_ndarray(format="rgb24")
            again = av.VideoFrame.from_ndarray(rgb, "rgb24").reformat(format="yuv420p")
            out.mux(stream.encode(again))
        out.mux(stream.encode(None))


def test_naive_default_conversion_scores_clearly_worse(clip: Callable[..., Path]) -> None:
    # Tagged BT.709, like the phone and Sora videos the engine gets.
    source = clip(width=320, height=180, frames=12, colour=(1, 1, 1, 1))
    naive = source.with_name("naive.mp4")
    naive_rgb_copy(source, naive)
    accurate = copy_video(source, source.with_name("accurate.mp4"), via="rgb").psnr_db
    naive_db = measure_psnr(source, naive)
    assert accurate is not None
    assert naive_db < 43.0
    assert accurate - naive_db > 3.0


def test_odd_sized_input_is_padded_to_even_and_keeps_its_pixels(
    clip: Callable[..., Path],
) -> None:
    source = clip(width=161, height=91, pix_fmt="yuv444p")
    out = source.with_name("out.mp4")
    copy_video(source, out, measure=False)
    info = probe(out)
    assert (info.width, info.height) == (162, 92)
    with VideoReader(source) as a, VideoReader(out) as b:
        first_in, first_out = next(iter(a)), next(iter(b))
        diff = abs(first_in.y.astype(int) - first_out.y[:91, :161].astype(int))
    assert diff.mean() < 2.0


def test_odd_sized_output_can_be_refused_clearly() -> None:
    from executor.engine.video import VideoWriter

    with pytest.raises(UnsupportedInput, match="needs an even width and height"):
        VideoWriter("x.mp4", width=161, height=91, frame_rate=Fraction(24), odd_size="error")
