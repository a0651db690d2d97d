"""Where the mark is: one (dilated) box per frame, and the runs of frames that share a box.

The pipeline builds a MarkPlan from the tracker's output or from boxes the caller gives;
every inpainter reads the same plan, so they all change exactly the same pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from executor.engine.frames import Box

Source = Literal["detected", "user"]


@dataclass(frozen=True)
class Segment:
    """Frames `start`..`end` (inclusive) carry the mark in the same `box`."""

    start: int
    end: int
    box: Box
    # "user": the box (and mask) came from the user's regions or masks, not the detector
    source: Source = "detected"

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class MarkPlan:
    """Per-frame box to repaint (already dilated, clipped to the frame) or None.

    `masks` (optional, per frame): float32 weights 0..1 over that frame's box, the only pixels
    that may change (a user's mask or several user areas, already dilated and feathered);
    frames sharing an area share one array. `user` (optional, per frame): True where the box
    came from the user instead of the detector.
    """

    width: int
    height: int
    boxes: list[Box | None]
    margin: int = 0  # how far the boxes were grown around the mark: the blend's feather
    masks: Sequence[np.ndarray | None] = ()
    user: Sequence[bool] = ()
    segments: list[Segment] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", _segments(self.boxes, self.masks, self.user))

    @property
    def frames(self) -> int:
        return len(self.boxes)

    @property
    def marked_frames(self) -> int:
        return sum(box is not None for box in self.boxes)

    def box(self, index: int) -> Box | None:
        return self.boxes[index] if 0 <= index < len(self.boxes) else None

    def mask(self, index: int) -> np.ndarray | None:
        """Weights over `box(index)` when only part of the box may change, else None."""
        return self.masks[index] if 0 <= index < len(self.masks) else None

    def is_user(self, index: int) -> bool:
        return 0 <= index < len(self.user) and self.user[index]

    @property
    def user_frames(self) -> frozenset[int]:
        """Frames whose area the user gave: nothing detected there is to be confirmed."""
        return frozenset(i for i, mine in enumerate(self.user) if mine)

    @classmethod
    def from_boxes(
        cls,
        boxes: Sequence[Sequence[int] | None] | Mapping[str | int, Sequence[int] | None],
        *,
        width: int,
        height: int,
        frames: int,
        margin: int,
    ) -> MarkPlan:
        """A plan from raw mark boxes (a list per frame, or {frame index: box}), each grown by
        `margin` pixels and clipped; frames past the end of a list have no mark."""
        if isinstance(boxes, Mapping):
            by_index = {int(key): value for key, value in boxes.items()}
            raw = [by_index.get(i) for i in range(frames)]
        else:
            raw = list(boxes[:frames]) + [None] * max(0, frames - len(boxes))
        planned = [
            dilate(_as_box(box), margin, width, height) if box is not None else None for box in raw
        ]
        return cls(width=width, height=height, boxes=planned, margin=margin)

    @property
    def feather(self) -> int:
        """Width of the blend ramp inside each box, in pixels."""
        return max(2, self.margin)


def margin_for(width: int, height: int) -> int:
    """How far to grow a mark box: enough for blur, shadow and codec ringing around the mark
    (6 px at 720p), and room for the blend's feather."""
    return max(4, round(min(width, height) / 120))


def dilate(box: Box, margin: int, width: int, height: int) -> Box | None:
    x1, y1, x2, y2 = box
    grown = (
        max(0, x1 - margin),
        max(0, y1 - margin),
        min(width, x2 + margin),
        min(height, y2 + margin),
    )
    if grown[2] <= grown[0] or grown[3] <= grown[1]:
        return None
    return grown


def intersects(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _as_box(box: Sequence[int]) -> Box:
    if len(box) != 4:
        raise ValueError(f"a box is [x1, y1, x2, y2], got {list(box)}")
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    return x1, y1, x2, y2


def _segments(
    boxes: Sequence[Box | None], masks: Sequence[np.ndarray | None], user: Sequence[bool]
) -> list[Segment]:
    def key(i: int) -> tuple[Box | None, int, bool]:
        mask = masks[i] if i < len(masks) else None
        return boxes[i], id(mask), i < len(user) and user[i]

    segments: list[Segment] = []
    start = 0
    for i in range(1, len(boxes) + 1):
        if i == len(boxes) or key(i) != key(start):
            box, _, mine = key(start)
            if box is not None:
                segments.append(Segment(start, i - 1, box, "user" if mine else "detected"))
            start = i
    return segments
