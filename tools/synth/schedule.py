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


Placement = tuple[int, int, float]  # top-left corner (may lie outside the frame), strength


def wild_schedule(
    rng: np.random.Generator,
    *,
    frames: int,
    fps: float,
    frame_size: tuple[int, int],
    mark_size: tuple[int, int],
    edge: bool | None = None,
    fade: bool = False,
) -> tuple[list[Placement | None], bool]:
    """One placement per frame for the wide family, and whether any stay touches an edge.

    Often no mark in the first frames; stays of 1-5 s, sometimes with a gap without the mark
    between them; a stay may sit flush against a frame edge or hang over it (at most 40 % of
    the mark cut off); with `fade` each stay fades in and out over 2-6 frames. edge=True
    forces the first stay onto an edge, edge=False keeps every stay off the edges."""
    width, height = frame_size
    placements: list[Placement | None] = []
    touched = False
    if rng.random() < 0.35:
        placements += [None] * max(1, round(rng.uniform(0.2, 1.5) * fps))
    fade_frames = int(rng.integers(2, 7))
    first = True
    previous: tuple[int, int] | None = None
    while len(placements) < frames:
        stay = max(1, round(rng.uniform(1.0, 5.0) * fps))
        on_edge = (edge is True and first) or (edge is None and rng.random() < 0.3)
        x, y = _wild_spot(rng, frame_size, mark_size, on_edge, previous)
        previous = (x, y)
        mark_w, mark_h = mark_size
        touched |= x <= 0 or y <= 0 or x + mark_w >= width or y + mark_h >= height
        ramp = min(fade_frames, stay // 3) if fade else 0
        for k in range(stay):
            strength = 1.0
            if ramp:
                strength = min(1.0, (k + 1) / (ramp + 1), (stay - k) / (ramp + 1))
            placements.append((x, y, strength))
        if rng.random() < 0.3:
            placements += [None] * max(1, round(rng.uniform(0.1, 1.0) * fps))
        first = False
    return placements[:frames], touched


def _wild_spot(
    rng: np.random.Generator,
    frame_size: tuple[int, int],
    mark_size: tuple[int, int],
    on_edge: bool,
    previous: tuple[int, int] | None,
) -> tuple[int, int]:
    """Top-left corner: anywhere with a 1 % margin, or against/over one or two edges."""
    width, height = frame_size
    mark_w, mark_h = mark_size
    margin_x, margin_y = max(1, round(width * 0.01)), max(1, round(height * 0.01))
    x = int(rng.integers(margin_x, max(margin_x, width - mark_w - margin_x) + 1))
    y = int(rng.integers(margin_y, max(margin_y, height - mark_h - margin_y) + 1))
    if previous is not None and abs(x - previous[0]) < mark_w and abs(y - previous[1]) < mark_h:
        x = int(rng.integers(margin_x, max(margin_x, width - mark_w - margin_x) + 1))
    if on_edge:
        for axis in rng.permutation(2)[: int(rng.integers(1, 3))]:
            size, extent = (mark_w, width) if axis == 0 else (mark_h, height)
            over = int(size * rng.uniform(0.0, 0.4)) if rng.random() < 0.35 else 0
            value = -over if rng.random() < 0.5 else extent - size + over
            if axis == 0:
                x = value
            else:
                y = value
    return x, y
