"""probe(): the facts about a video the engine needs, and a clear error for bad inputs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from loguru import logger

from executor.engine.colour import ColourTags
from executor.engine.errors import (
    CorruptInput,
    EmptyInput,
    InputNotFound,
    NoFrames,
    NotAVideo,
)


@dataclass(frozen=True)
class VideoInfo:
    """What probe() found. Rotation is the display matrix's counter-clockwise angle."""

    path: Path
    width: int
    height: int
    fps: float
    frame_rate: Fraction  # average frame rate as a fraction, e.g. 30000/1001
    time_base: Fraction
    frame_count: int
    frame_count_declared: bool  # False when we had to count packets ourselves
    duration: float
    rotation: int
    codec: str
    pixel_format: str
    colour: ColourTags
    has_audio: bool
    audio_codec: str | None


def probe(path: str | Path) -> VideoInfo:
    """Inspect a video file; raises VideoError (with a readable message) for bad inputs."""
    path = Path(path)
    with open_input(path) as container:
        stream = video_stream(container)
        first = _first_frame(container, stream)
        declared = stream.frames > 0
        frame_count, last_end = (stream.frames, None) if declared else _count_packets(path)
        time_base = stream.time_base or Fraction(1, 90000)
        frame_rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        duration = _duration(container, stream, time_base, last_end)
        if not frame_rate and duration > 0:
            frame_rate = Fraction(frame_count) / Fraction(duration).limit_denominator(1_000_000)
        audio = container.streams.audio[0] if container.streams.audio else None
        info = VideoInfo(
            path=path,
            width=first.width,
            height=first.height,
            fps=float(frame_rate),
            frame_rate=Fraction(frame_rate),
            time_base=Fraction(time_base),
            frame_count=frame_count,
            frame_count_declared=declared,
            duration=duration,
            rotation=_rotation(first, stream),
            codec=stream.codec_context.name,
            pixel_format=first.format.name,
            colour=ColourTags.of_frame(first),
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )
    logger.debug(
        "probed {}: {}x{} {:.3f} fps, {} frames, {:.2f}s, rotation {}, audio {}, {}",
        path.name,
        info.width,
        info.height,
        info.fps,
        info.frame_count,
        info.duration,
        info.rotation,
        info.audio_codec or "none",
        info.colour.describe(),
    )
    return info


@contextmanager
def open_input(path: Path) -> Iterator[av.container.InputContainer]:
    """Open a file for reading, turning FFmpeg's complaints into VideoError."""
    if not path.is_file():
        raise InputNotFound(f"input not found: {path}")
    if path.stat().st_size == 0:
        raise EmptyInput("input is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        # A missing index (mp4 "moov atom not found") looks the same as a non-video file
        # to FFmpeg, so the message covers both.
        raise NotAVideo(
            f"input is not a video or is truncated/corrupted: FFmpeg could not read it "
            f"({error.strerror})"
        ) from error
    try:
        yield container
    finally:
        container.close()


def video_stream(container: av.container.InputContainer) -> av.VideoStream:
    if not container.streams.video:
        raise NotAVideo("input is not a video: no video stream found")
    return container.streams.video[0]


def _first_frame(container: av.container.InputContainer, stream: av.VideoStream) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as error:
        raise CorruptInput(
            f"input is truncated or corrupted at frame 0 ({error.strerror})"
        ) from error
    raise NoFrames("input has no frames")


def _count_packets(path: Path) -> tuple[int, Fraction | None]:
    """Count video packets (cheap: no decoding) for containers that do not store a count.

    Also returns the end time of the last packet, for a duration when none is stored.
    """
    count, end = 0, None
    try:
        with open_input(path) as container:
            stream = video_stream(container)
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                count += 1
                if packet.pts is not None and packet.time_base is not None:
                    packet_end = (packet.pts + (packet.duration or 0)) * packet.time_base
                    end = packet_end if end is None else max(end, packet_end)
    except av.error.FFmpegError as error:
        raise CorruptInput(
            f"input is truncated or corrupted at frame {count} ({error.strerror})"
        ) from error
    if count == 0:
        raise NoFrames("input has no frames")
    return count, end


def _duration(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    time_base: Fraction,
    last_end: Fraction | None,
) -> float:
    if stream.duration:
        return float(stream.duration * time_base)
    if container.duration:
        return container.duration / av.time_base
    return float(last_end or 0.0)


def _rotation(first: av.VideoFrame, stream: av.VideoStream) -> int:
    """Counter-clockwise display rotation: from the display matrix FFmpeg attaches to decoded
    frames, else from the legacy clockwise `rotate` tag."""
    rotation = int(first.rotation)
    if rotation == 0 and "rotate" in stream.metadata:
        try:
            rotation = -int(float(stream.metadata["rotate"]))
        except ValueError:
            rotation = 0
    rotation %= 360
    return rotation - 360 if rotation > 180 else rotation
