"""Where the mark is: one (dilated) box per frame, and the runs of frames that share a box.

The pipeline builds a MarkPlan from the tracker's output or from boxes the caller gives;
every inpainter reads the same plan, so they all change exactly the same pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from executor.engine.frames import Box


@dataclass(frozen=True)
class Segment:
    """Frames `start`..`end` (inclusive) carry the mark in the same `box`."""

    start: int
    end: int
    box: Box

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class MarkPlan:
    """Per-frame box to repaint (already dilated, clipped to the frame) or None."""

    width: int
    height: int
    boxes: list[Box | None]
    margin: int = 0  # how far the boxes were grown around the mark: the blend's feather
    segments: list[Segment] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", _segments(self.boxes))

    @property
    def frames(self) -> int:
        return len(self.boxes)

    @property
    def marked_frames(self) -> int:
        return sum(box is not None for box in self.boxes)

    def box(self, index: int) -> Box | None:
        return self.boxes[index] if 0 <= index < len(self.boxes) else None

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


def _segments(boxes: Sequence[Box | None]) -> list[Segment]:
    segments: list[Segment] = []
    start = 0
    for i in range(1, len(boxes) + 1):
        if i == len(boxes) or boxes[i] != boxes[start]:
            box = boxes[start]
            if box is not None:
                segments.append(Segment(start, i - 1, box))
            start = i
    return segments
