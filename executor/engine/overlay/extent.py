"""Where the mark's ink really is, from the frames of its run.

- `ink_extent`: the detector's box can cut through the ink (a stroke of a faint logo, the
  end of the @handle line), and whatever is left outside the box stays in the video; the
  box is grown to the pieces of fixed overlay it cuts through, by a quarter of its size at
  most. Pieces merely *near* the box are left alone: a still or slowly drifting picture has
  edges that stay put too, and taking them in tripled the repaint on real photos.
- `ink_mask`: the pixels of the box that carry ink (strokes, their soft edge and shadow,
  the holes of the glyphs closed); the others between the letters are left as decoded, and
  the fill has them as known picture to work from.

Where the ink is: over a moving picture, the edges that stay put (the per-pixel median of
the gradients); over a still picture, with frames without the mark, where the picture
changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from executor.engine.frames import Box
from executor.engine.overlay.evidence import RunEvidence
from executor.engine.overlay.matte import FADE_TRIM

MIN_CHANGE = 2.0  # as in confirm: luma levels of change from which the picture "moves"
MAX_GROWTH = 0.25  # of the box's size, per side
INK_CLOSE = 5  # px: strokes a few pixels apart are one piece (the glyphs' holes closed)
MIN_MASK_SHARE = 0.05  # an ink mask covering less of the box than this is not believed
MAX_MASK_SHARE = 0.85  # ... and one covering more saves nothing: the whole box is filled


def ink_pixels(run: RunEvidence) -> np.ndarray | None:
    """Bool over the run's region: pixels on the fixed overlay; None when the frames cannot
    tell (a still picture with no frame without the mark)."""
    stack = run.stack(trim=FADE_TRIM)
    fixed, total = run.edges(trim=FADE_TRIM)
    still = float(np.median(stack.std(axis=0))) < MIN_CHANGE
    if not still:
        # Pixels on edges that stay put over the run, against the edges that move.
        return np.asarray((fixed > 0.5 * total) & (fixed > 16.0))
    controls = run.control_stack()
    if controls is None:
        return None
    return np.asarray(np.abs(stack.mean(axis=0) - controls.mean(axis=0)) > 6.0)


def ink_mask(run: RunEvidence) -> np.ndarray | None:
    """Bool over the run's region: the ink's pixels, its holes closed (the inside of a
    filled logo or a thick stroke has no edge of its own), or None when the frames cannot
    tell or the mask is not believable over the box (too little of it: a faint mark whose
    edges drown in the picture's)."""
    ink = ink_pixels(run)
    if ink is None:
        return None
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (INK_CLOSE, INK_CLOSE))
    closed = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    # Holes: what the border of the region cannot reach without crossing ink.
    outside = np.pad(1 - closed, 1, constant_values=1)
    seeds = np.zeros((outside.shape[0] + 2, outside.shape[1] + 2), np.uint8)
    cv2.floodFill(outside, seeds, (0, 0), 2)
    mask = outside[1:-1, 1:-1] != 2
    x1, y1, x2, y2 = run.box_in_region
    share = float(mask[max(0, y1) : y2, max(0, x1) : x2].mean()) if x2 > x1 and y2 > y1 else 0.0
    return mask if MIN_MASK_SHARE <= share <= MAX_MASK_SHARE else None


def ink_extent(run: RunEvidence) -> Box:
    """The run's box grown to the pieces of fixed overlay it cuts through (by MAX_GROWTH of
    its size per side at most), in frame pixels."""
    ink = ink_pixels(run)
    if ink is None:
        return run.box
    x1, y1, x2, y2 = run.box_in_region
    near = np.zeros_like(ink)
    near[max(0, y1) : y2, max(0, x1) : x2] = True
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
    cap_x, cap_y = round(MAX_GROWTH * (x2 - x1)), round(MAX_GROWTH * (y2 - y1))
    grown = [
        max(grown[0], x1 - cap_x),
        max(grown[1], y1 - cap_y),
        min(grown[2], x2 + cap_x),
        min(grown[3], y2 + cap_y),
    ]
    rx, ry = run.region[0], run.region[1]
    return grown[0] + rx, grown[1] + ry, grown[2] + rx, grown[3] + ry
