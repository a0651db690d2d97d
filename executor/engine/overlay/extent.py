"""Where the mark's ink really is, from the frames of its run.

- `ink_extent`: the detector's box can cut through the ink (a stroke of a faint logo, the
  end of the @handle line), and whatever is left outside the box stays in the video; the
  box is grown to the pieces of fixed overlay it cuts through (pieces mostly inside it),
  by a quarter of its size at most. Pieces merely *near* the box are left alone: a still
  or slowly drifting picture has edges that stay put too, and taking them in tripled the
  repaint on real photos.
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
LINK = (1, 9)  # px (rows, columns): the gaps between the letters and words of one line


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
    """Bool over the run's region: the mark's ink, its holes closed (the inside of a filled
    logo or a thick stroke has no edge of its own), or None when the frames cannot tell or
    the mask is not believable over the box (too little of it: a faint mark whose edges
    drown in the picture's; almost all of it: a textured picture under a slow camera)."""
    ink = ink_pixels(run)
    if ink is None:
        return None
    mask = _closed(_own(ink, run))
    return mask if _believable(mask, run) else None


def ink_extent(run: RunEvidence) -> Box:
    """The run's box grown to the mark's ink it cuts through (by MAX_GROWTH of its size per
    side at most), in frame pixels."""
    own = own_ink(run)
    if own is None:
        return run.box  # the frames cannot tell the ink from the picture here
    x1, y1, x2, y2 = run.box_in_region
    ys, xs = np.nonzero(own)
    cap_x, cap_y = round(MAX_GROWTH * (x2 - x1)), round(MAX_GROWTH * (y2 - y1))
    grown = [
        max(min(x1, int(xs.min())), x1 - cap_x),
        max(min(y1, int(ys.min())), y1 - cap_y),
        min(max(x2, int(xs.max()) + 1), x2 + cap_x),
        min(max(y2, int(ys.max()) + 1), y2 + cap_y),
    ]
    rx, ry = run.region[0], run.region[1]
    return grown[0] + rx, grown[1] + ry, grown[2] + rx, grown[3] + ry


def own_ink(run: RunEvidence) -> np.ndarray | None:
    """Bool over the run's region: the ink of the pieces that belong to the mark (see
    `_own`); None when the frames cannot tell it from the picture."""
    ink = ink_pixels(run)
    if ink is None:
        return None
    own = _own(ink, run)
    return own if own.any() and _believable(_closed(own), run) else None


def _own(ink: np.ndarray, run: RunEvidence) -> np.ndarray:
    """The ink of pieces that lie mostly inside the box: the mark's, the box cutting off at
    most the smaller part of one (the end of a letter). Letters a few pixels apart on one
    line count as one piece, so a subtitle or a caption running through a corner of the box
    (a fixed overlay too, while it shows) is the picture's, inside the box as well."""
    x1, y1, x2, y2 = run.box_in_region
    box = np.zeros(ink.shape, dtype=bool)
    box[max(0, y1) : y2, max(0, x1) : x2] = True
    linked = cv2.dilate(ink.astype(np.uint8), np.ones(LINK, np.uint8))
    count, labels = cv2.connectedComponents(linked, connectivity=8)
    inside = np.bincount(labels[box], minlength=count)
    total = np.bincount(labels.ravel(), minlength=count)
    keep = (inside > 0) & (2 * inside >= total)
    keep[0] = False
    return np.asarray(ink & keep[labels])


def _closed(ink: np.ndarray) -> np.ndarray:
    """The ink with its holes: what the region's border cannot reach without crossing ink
    (strokes a few pixels apart closed into one first)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (INK_CLOSE, INK_CLOSE))
    closed = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    outside = np.pad(1 - closed, 1, constant_values=1)
    seeds = np.zeros((outside.shape[0] + 2, outside.shape[1] + 2), np.uint8)
    cv2.floodFill(outside, seeds, (0, 0), 2)
    return np.asarray(outside[1:-1, 1:-1] != 2)


def _believable(mask: np.ndarray, run: RunEvidence) -> bool:
    """Whether `mask` can be the ink over the run's box: neither almost none of it nor
    almost all (a textured picture under a slow camera keeps its edges in place too)."""
    x1, y1, x2, y2 = run.box_in_region
    share = float(mask[max(0, y1) : y2, max(0, x1) : x2].mean()) if x2 > x1 and y2 > y1 else 0.0
    return MIN_MASK_SHARE <= share <= MAX_MASK_SHARE
