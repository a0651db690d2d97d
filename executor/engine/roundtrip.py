"""copy_video(): decode -> (identity) -> encode, and measure_psnr() to see what it cost."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from loguru import logger

from executor.engine.errors import VideoError
from executor.engine.frames import Frame
from executor.engine.reader import VideoReader
from executor.engine.writer import DEFAULT_PRESET, VideoWriter


@dataclass(frozen=True)
class CopyReport:
    frames: int
    seconds: float
    psnr_db: float | None


def copy_video(
    source: str | Path,
    target: str | Path,
    *,
    crf: int = 18,
    preset: str = DEFAULT_PRESET,
    via: Literal["yuv", "rgb"] = "yuv",
    measure: bool = True,
) -> CopyReport:
    """Re-encode `source` into `target` untouched.

    `via="yuv"` passes the decoded planes straight to the encoder (what the engine does for
    pixels it does not change); `via="rgb"` converts every frame to RGB and back, as a
    whole-frame filter would, to show the colour conversion is lossless enough.
    """
    started = time.perf_counter()
    with (
        VideoReader(source) as reader,
        VideoWriter.like(reader.info, target, crf=crf, preset=preset) as writer,
    ):
        for frame in reader:
            if via == "rgb":
                frame = Frame.from_rgb(
                    frame.rgb(),
                    index=frame.index,
                    pts=frame.pts,
                    time_base=frame.time_base,
                    colour=frame.colour,
                )
            writer.write(frame)
        frames = writer.frames_written
    seconds = time.perf_counter() - started
    psnr = measure_psnr(source, target) if measure else None
    logger.info(
        "copied {} frames via {} in {:.2f}s{}",
        frames,
        via,
        seconds,
        f", PSNR {psnr:.2f} dB" if psnr is not None else "",
    )
    return CopyReport(frames=frames, seconds=seconds, psnr_db=psnr)


def measure_psnr(reference: str | Path, candidate: str | Path) -> float:
    """PSNR in dB over all Y, U and V samples of two videos of the same size, frame by frame
    (the way FFmpeg's psnr filter averages yuv420p). Equal videos give +inf."""
    squared_error, samples, frames = 0.0, 0, 0
    with VideoReader(reference) as ref, VideoReader(candidate) as cand:
        for a, b in zip(ref, cand, strict=False):
            if (a.width, a.height) != (b.width, b.height):
                raise VideoError(f"cannot compare {a.width}x{a.height} with {b.width}x{b.height}")
            for pa, pb in ((a.y, b.y), (a.u, b.u), (a.v, b.v)):
                diff = pa.astype(np.int32) - pb.astype(np.int32)
                squared_error += float(np.square(diff).sum())
                samples += diff.size
            frames += 1
    if frames == 0:
        raise VideoError("no frames to compare")
    if squared_error == 0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / (squared_error / samples))
