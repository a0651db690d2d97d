"""Where the mark sits in each frame: it stays put for 1-4 s, then jumps somewhere else."""

from __future__ import annotations

import numpy as np

Position = tuple[int, int] | None  # top-left corner of the mark, or None when it is absent


def jump_schedule(
    rng: np.random.Generator,
    *,
    frames: int,
    fps: float,
    frame_size: tuple[int, int],
    mark_size: tuple[int, int],
    absent_chance: float = 0.08,
) -> list[Position]:
    """One position per frame. Each stay lasts 1-4 s; a few stays have no mark at all, so a
    detector also learns frames without one."""
    width, height = frame_size
    mark_w, mark_h = mark_size
    margin_x, margin_y = round(width * 0.02), round(height * 0.02)
    max_x, max_y = width - mark_w - margin_x, height - mark_h - margin_y
    if max_x < margin_x or max_y < margin_y:
        raise ValueError(f"a {mark_w}x{mark_h} mark does not fit a {width}x{height} frame")
    positions: list[Position] = []
    previous: tuple[int, int] | None = None
    while len(positions) < frames:
        stay = max(1, round(rng.uniform(1.0, 4.0) * fps))
        here: Position = None
        if rng.random() >= absent_chance:
            here = _jump_from(rng, previous, (margin_x, margin_y, max_x, max_y), mark_size)
            previous = here
        positions.extend([here] * stay)
    return positions[:frames]


def _jump_from(
    rng: np.random.Generator,
    previous: tuple[int, int] | None,
    bounds: tuple[int, int, int, int],
    mark_size: tuple[int, int],
) -> tuple[int, int]:
    """A random spot, preferring one that does not overlap the previous one (a real jump)."""
    x_low, y_low, x_high, y_high = bounds
    candidate = (0, 0)
    for _ in range(20):
        candidate = (int(rng.integers(x_low, x_high + 1)), int(rng.integers(y_low, y_high + 1)))
        if previous is None:
            return candidate
        apart_x = abs(candidate[0] - previous[0]) >= mark_size[0]
        apart_y = abs(candidate[1] - previous[1]) >= mark_size[1]
        if apart_x or apart_y:
            return candidate
    return candidate
