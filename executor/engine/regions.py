"""The user takes over: boxes per time range and mask images, in place of detection there.

In every frame that falls in a user area's time range, exactly the union of the user's areas
that cover it is cleaned, whatever the detector found (another kind of watermark, a mark the
detector misses); elsewhere the detector's plan stands (or nothing, with `detect` off).

A frame's user areas become one box (one user box: grown by the margin, feathered like a
detected box) or a box with a pixel mask (a mask image, or several areas at once: their union,
dilated by the margin, feathered inside). Frames with the same areas share one mask array.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from executor.engine.frames import Box
from executor.engine.inpaint.plan import MarkPlan, dilate

_TIMES = re.compile(r"[0-9.]*-[0-9.]*")


@dataclass(frozen=True)
class UserArea:
    """A box or a mask (bool HxW, the video's size) from `start_s` (inclusive) to `end_s`
    (exclusive); None for either: from the start / to the end."""

    box: Box | None = None
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    start_s: float | None = None
    end_s: float | None = None
    label: str = "area"

    def __post_init__(self) -> None:
        if (self.box is None) == (self.mask is None):
            raise ValueError(f"{self.label}: give a box or a mask")
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
                raise ValueError(f"{self.label}: {list(self.box)} is not a box [x1, y1, x2, y2]")
        if self.start_s is not None and self.start_s < 0:
            raise ValueError(f"{self.label}: the start time must not be negative")
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"{self.label}: the end time must be after the start time")

    def covers(self, seconds: float) -> bool:
        return (self.start_s is None or seconds >= self.start_s) and (
            self.end_s is None or seconds < self.end_s
        )


@dataclass(frozen=True)
class UserAreas:
    """What the user gave; `detect`: whether the detector still runs outside their ranges."""

    areas: tuple[UserArea, ...] = ()
    detect: bool = True

    def __bool__(self) -> bool:
        return bool(self.areas)

    def check(self, width: int, height: int) -> None:
        """ValueError naming the first area that does not fit a `width`x`height` video."""
        for area in self.areas:
            if area.box is not None and (area.box[2] > width or area.box[3] > height):
                raise ValueError(
                    f"{area.label}: {list(area.box)} lies outside the {width}x{height} video"
                )
            if area.mask is not None and area.mask.shape != (height, width):
                mask_h, mask_w = area.mask.shape
                raise ValueError(
                    f"{area.label} is {mask_w}x{mask_h}, the video is {width}x{height}"
                )

    def frame_sets(self, frames: int, fps: float) -> list[tuple[int, ...]]:
        """Per frame, the indices of the areas covering it (frame i is at i / fps)."""
        rate = fps or 30.0
        return [
            tuple(k for k, area in enumerate(self.areas) if area.covers(i / rate))
            for i in range(frames)
        ]

    def covers_all(self, frames: int, fps: float) -> bool:
        return all(self.frame_sets(frames, fps))

    def needs_detection(self, frames: int, fps: float) -> bool:
        return self.detect and not self.covers_all(frames, fps)

    def plan(
        self,
        *,
        width: int,
        height: int,
        frames: int,
        fps: float,
        margin: int,
        detected: MarkPlan | None = None,
    ) -> MarkPlan:
        """The plan: the user's areas where they apply, `detected` (if any) elsewhere."""
        self.check(width, height)
        boxes: list[Box | None] = []
        masks: list[np.ndarray | None] = []
        user: list[bool] = []
        made: dict[tuple[int, ...], tuple[Box | None, np.ndarray | None]] = {}
        for index, covering in enumerate(self.frame_sets(frames, fps)):
            if covering:
                if covering not in made:
                    made[covering] = self._area(covering, width, height, margin)
                box, weights = made[covering]
            else:
                box = detected.box(index) if detected is not None else None
                weights = detected.mask(index) if detected is not None else None
            boxes.append(box)
            masks.append(weights)
            user.append(bool(covering))
        return MarkPlan(
            width=width, height=height, boxes=boxes, margin=margin, masks=masks, user=user
        )

    def _area(
        self, covering: tuple[int, ...], width: int, height: int, margin: int
    ) -> tuple[Box | None, np.ndarray | None]:
        areas = [self.areas[k] for k in covering]
        if len(areas) == 1 and areas[0].box is not None:
            return dilate(areas[0].box, margin, width, height), None
        union = np.zeros((height, width), dtype=np.uint8)
        for area in areas:
            if area.box is not None:
                x1, y1, x2, y2 = area.box
                union[y1:y2, x1:x2] = 1
            else:
                union |= np.asarray(area.mask, dtype=np.uint8)
        return feathered(union, margin)


def feathered(mask: np.ndarray, margin: int) -> tuple[Box | None, np.ndarray | None]:
    """`mask` (uint8 HxW, 1 = clean) dilated by `margin` px: its bounding box and float32
    weights over it, 1 inside, falling to 0 over the outer `max(2, margin)` px (not at the
    frame's edges, like a detected box's feather). (None, None) for an empty mask."""
    if margin > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        mask = cv2.dilate(mask, kernel)
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None, None
    feather = max(2, margin)
    # the picture's edge is not a seam: continue the mask past it before measuring distances
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    # like a detected box's feather: the outermost pixel weighs 0.5 / feather
    weights = np.clip((distance[y1:y2, x1:x2] - 0.5) / feather, 0.0, 1.0)
    weights[mask[y1:y2, x1:x2] == 0] = 0.0
    return (x1, y1, x2, y2), weights.astype(np.float32)


def read_mask(path: str | Path) -> np.ndarray:
    """A mask image file: True where it is white (brighter than mid-grey)."""
    data = Path(path).read_bytes() if Path(path).is_file() else None
    if data is None:
        raise ValueError(f"mask image not found: {path}")
    return decode_mask(data, str(path))


def decode_mask(data: bytes, label: str = "mask") -> np.ndarray:
    """A PNG's (or any image's) bytes: True where it is white (brighter than mid-grey)."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{label}: not an image")
    return np.asarray(image > 127)


def parse_time_range(text: str, label: str) -> tuple[float | None, float | None]:
    """`START-END` in seconds, either side optional (`2.5-`, `-4`, `1-3.5`)."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"{label}: the time range is START-END in seconds, got {text!r}")
    try:
        return (float(start) if start.strip() else None, float(end) if end.strip() else None)
    except ValueError:
        raise ValueError(f"{label}: the time range is START-END in seconds, got {text!r}") from None


def parse_region(text: str, label: str = "--region") -> UserArea:
    """`X1,Y1,X2,Y2[@START-END]` (pixels, x2/y2 exclusive; seconds)."""
    spec, _, times = text.partition("@")
    try:
        values = [int(v) for v in spec.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(f"{label}: a box is X1,Y1,X2,Y2 in whole pixels, got {spec!r}")
    start, end = parse_time_range(times, label) if times else (None, None)
    return UserArea(
        box=(values[0], values[1], values[2], values[3]),
        start_s=start,
        end_s=end,
        label=f"{label} {text}",
    )


def parse_mask(text: str, label: str = "--mask") -> UserArea:
    """`PNG[@START-END]`: a mask image file (white = clean) and its time range in seconds."""
    path, at, times = text.rpartition("@")
    if not at or not _TIMES.fullmatch(times):  # an "@" in the file's name
        path, times = text, ""
    start, end = parse_time_range(times, label) if times else (None, None)
    try:
        mask = read_mask(path)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from None
    return UserArea(mask=mask, start_s=start, end_s=end, label=f"{label} {path}")
