"""Small real videos made with plain PyAV, independent of the code under test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Interpolation

ACCURATE = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT


def textured_frame(width: int, height: int, index: int) -> np.ndarray:
    """Smooth moving colour (in gamut for BT.601 and BT.709) and a sliding block."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 30 + 190 * (xx / width)
    green = 40 + 170 * (0.5 + 0.5 * np.sin((xx + yy + index * 4) / 25))
    blue = 30 + 190 * (0.5 + 0.5 * np.cos((xx - yy) / 9))
    rgb = np.stack([red, green, blue], axis=-1)
    x0 = (index * 3) % max(1, width - 20)
    rgb[height // 4 : height // 2, x0 : x0 + 20] = (190, 70, 90)
    return rgb.astype(np.uint8)


def make_clip(
    path: Path,
    *,
    width: int = 160,
    height: int = 96,
    frames: int = 24,
    fps: int = 24,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    audio: bool = False,
    pix_fmt: str = "yuv420p",
    colour: tuple[int, int, int, int] | None = None,
    crf: int = 12,
) -> Path:
    """Encode a clip with libx264. `colour` = (range, matrix, primaries, transfer) codes."""
    time_base = time_base or Fraction(1, fps)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if colour is not None:
            context = stream.codec_context
            context.color_range, context.colorspace = colour[0], colour[1]
            context.color_primaries, context.color_trc = colour[2], colour[3]
        if rotation is not None:
            stream.set_display_rotation(rotation)
        audio_stream = container.add_stream("aac", rate=48000, layout="mono") if audio else None
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(textured_frame(width, height, i), "rgb24")
            full = colour is not None and colour[0] == 2
            frame = frame.reformat(
                format=pix_fmt,
                src_colorspace=1,
                dst_colorspace=1,
                src_color_range=ColorRange.JPEG,
                dst_color_range=ColorRange.JPEG if full else ColorRange.MPEG,
                interpolation=ACCURATE,
            )
            frame.pts = pts[i] if pts is not None else round(i / fps / time_base)
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            seconds = frames / fps
            for start in range(0, int(seconds * 48000), 1024):
                t = (start + np.arange(1024)) / 48000
                samples = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 48000, start
                container.mux(audio_stream.encode(chunk))
            container.mux(audio_stream.encode(None))
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Callable[..., Path]:
    """clip(name, **make_clip options) -> path of a freshly encoded clip in tmp_path."""

    def build(name: str = "in.mp4", **options: object) -> Path:
        return make_clip(tmp_path / name, **options)  # type: ignore[arg-type]

    return build


def packets(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def frame_times(path: Path) -> list[Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts * stream.time_base for frame in container.decode(stream)]
