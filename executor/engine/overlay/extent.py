"""Where the mark's ink really reaches: the detector's box can be short of it (a second line,
the @handle, missed; a faint logo cut off), and whatever is left outside the box stays in
the video. The frames say where the fixed overlay is, so the box is grown to take in every
piece of it that touches the box.

- over a moving picture: the edges that stay put (the per-pixel median of the gradients);
- over a still picture, with frames without the mark: where the picture changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from executor.engine.frames import Box
from executor.engine.overlay.evidence import RunEvidence
from executor.engine.overlay.matte import FADE_TRIM

MIN_CHANGE = 2.0  # as in confirm: luma levels of change from which the picture "moves"


def ink_extent(run: RunEvidence) -> Box:
    """The run's box grown to every piece of fixed overlay that touches it, in frame pixels."""
    stack = run.stack(trim=FADE_TRIM)
    fixed, total = run.edges(trim=FADE_TRIM)
    # Pixels on edges that stay put over the run, against the edges that move.
    ink = (fixed > 0.5 * total) & (fixed > 16.0)
    controls = run.control_stack()
    still = float(np.median(stack.std(axis=0))) < MIN_CHANGE
    if still:
        if controls is None:
            return run.box
        ink = np.abs(stack.mean(axis=0) - controls.mean(axis=0)) > 6.0
    x1, y1, x2, y2 = run.box_in_region
    # A piece belongs to the mark when it lies within half the box's height of it (the gap
    # between the logo, the word and the handle line).
    pad = max(2, (y2 - y1) // 2)
    near = np.zeros_like(ink)
    near[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad] = True
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)), connectivity=8
    )
    height, width = ink.shape
    frame_width, frame_height = run.frame_size
    # Region sides that are not the frame's edge: a piece reaching one goes on beyond the
    # context around the mark, so it is the picture, not the mark.
    open_sides = (
        run.region[0] > 0,
        run.region[1] > 0,
        run.region[2] < frame_width,
        run.region[3] < frame_height,
    )
    grown = [x1, y1, x2, y2]
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < 6 or not (near & (labels == label)).any():
            continue
        left, top = int(stats[label, cv2.CC_STAT_LEFT]), int(stats[label, cv2.CC_STAT_TOP])
        right = left + int(stats[label, cv2.CC_STAT_WIDTH])
        bottom = top + int(stats[label, cv2.CC_STAT_HEIGHT])
        touches = (left <= 0, top <= 0, right >= width, bottom >= height)
        if any(t and o for t, o in zip(touches, open_sides, strict=True)):
            continue
        grown = [
            min(grown[0], left),
            min(grown[1], top),
            max(grown[2], right),
            max(grown[3], bottom),
        ]
    rx, ry = run.region[0], run.region[1]
    return grown[0] + rx, grown[1] + ry, grown[2] + rx, grown[3] + ry
