"""`telea`: OpenCV's fast-marching inpainting, frame by frame, on a crop around the box."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from executor.engine.frames import Box, Frame
from executor.engine.inpaint.base import Inpainter, box_mask, composite, grow
from executor.engine.inpaint.plan import MarkPlan


class TeleaInpainter(Inpainter):
    name = "telea"

    def __init__(self, radius: int = 5) -> None:
        self.radius = radius

    def fill(self, frames: Sequence[Frame], plan: MarkPlan) -> None:
        for frame in frames:
            box = plan.box(frame.index)
            if box is not None:
                crop_box, fill = telea_fill(frame, box, self.radius, plan.mask(frame.index))
                composite(frame, box, fill, crop_box, plan.feather)


def telea_fill(
    frame: Frame, box: Box, radius: int = 5, weights: np.ndarray | None = None
) -> tuple[Box, np.ndarray]:
    """TELEA's fill of `box` from the pixels around it: the crop read and its filled pixels.
    With `weights` (a mask over the box) only the mask's pixels are unknown: the rest of the
    box is known picture to fill from."""
    x1, y1, x2, y2 = box
    pad = max(8, (y2 - y1) // 2)
    crop_box, crop = frame.read_region(grow(box, pad, frame.width, frame.height))
    return crop_box, telea_array(crop, box_mask(crop_box, box, weights), radius)


def telea_array(rgb: np.ndarray, mask: np.ndarray, radius: int = 5) -> np.ndarray:
    """cv2.inpaint TELEA of an RGB uint8 array where mask == 1."""
    return np.asarray(cv2.inpaint(np.ascontiguousarray(rgb), mask, radius, cv2.INPAINT_TELEA))
