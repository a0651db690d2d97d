"""Frames in YUV 4:2:0: regions convert to RGB and back without disturbing the rest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from executor.engine.frames import block_means
from executor.engine.video import Frame, VideoReader


def first_frame(path: Path) -> Frame:
    with VideoReader(path) as reader:
        return next(iter(reader))


def test_region_rgb_matches_the_whole_frame_conversion(clip: Callable[..., Path]) -> None:
    frame = first_frame(clip(width=320, height=180))
    box, region = frame.read_region((41, 31, 141, 91))
    x1, y1, x2, y2 = box
    whole = frame.rgb()[y1:y2, x1:x2].astype(int)
    # Nearest vs bilinear chroma upsampling differ a little on colour edges only.
    assert np.abs(region.astype(int) - whole).mean() < 2.0


def test_region_boxes_are_aligned_to_whole_chroma_samples(clip: Callable[..., Path]) -> None:
    frame = first_frame(clip(width=160, height=96))
    assert frame.align((41, 31, 141, 91)) == (40, 30, 142, 92)
    assert frame.align((150, 90, 170, 100)) == (150, 90, 160, 96)


def test_writing_an_unchanged_region_back_is_near_lossless(clip: Callable[..., Path]) -> None:
    frame = first_frame(clip(width=320, height=180))
    before_y, before_u = frame.y.copy(), frame.u.copy()
    box, region = frame.read_region((40, 30, 140, 90))
    frame.write_region(box, region)
    assert np.abs(frame.y.astype(int) - before_y).max() <= 1
    assert np.abs(frame.u.astype(int) - before_u).max() <= 1


def test_writing_a_region_leaves_every_other_pixel_bit_exact(clip: Callable[..., Path]) -> None:
    frame = first_frame(clip(width=320, height=180))
    before_y = frame.y.copy()
    box, region = frame.read_region((40, 30, 140, 90))
    frame.write_region(box, np.full_like(region, 255))
    x1, y1, x2, y2 = box
    outside = np.ones_like(before_y, dtype=bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(frame.y[outside], before_y[outside])
    assert (frame.y[y1:y2, x1:x2] == 235).all()  # white in limited range


def test_frames_carry_presentation_time(clip: Callable[..., Path]) -> None:
    with VideoReader(clip(frames=5, fps=25)) as reader:
        times = [frame.time for frame in reader]
    assert times == [0.0, 0.04, 0.08, 0.12, 0.16]


@pytest.mark.parametrize("size", [(2, 2), (40, 2), (2, 40), (36, 58), (720, 1280)])
def test_block_means_are_numpys_bit_for_bit(size: tuple[int, int]) -> None:
    height, width = size
    plane = np.random.default_rng(width).normal(128.0, 60.0, size).astype(np.float32)

    fast = block_means(plane)

    exact = plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    assert fast.dtype == exact.dtype
    assert np.array_equal(fast, exact)
