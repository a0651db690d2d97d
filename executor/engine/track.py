"""From per-frame detections to where the mark is in every frame.

The Sora mark sits still for seconds, then jumps. So detections are grouped into runs at
one position; a run is one segment with one box (the median of its detections). That
smooths the detector's jitter, fills frames it missed inside a segment, and drops isolated
false positives (runs of fewer than `min_hits` detections). A short undetected gap where
the mark jumps (or at the start/end of the video) is split between the neighbouring
segments, since the jump happens between two frames. Finally each box is dilated by a
margin, so no edge of the mark survives inpainting, and clipped to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from executor.engine.detect import Detection
from executor.engine.frames import Box

MATCH_IOU = 0.5  # a detection belongs to a run when it overlaps the run's box this much
_REFERENCE_LENGTH = 15  # a run's position: the median of its last detections


@dataclass(frozen=True)
class Segment:
    start: int  # first frame
    end: int  # last frame, inclusive
    box: Box  # the region to clean: `detected` dilated by the margin, clipped to the frame
    detected: Box  # the median of the segment's detections
    hits: int  # frames of the segment with a detection


@dataclass(frozen=True)
class Track:
    frames: int
    segments: list[Segment]
    boxes: list[Box | None] = field(repr=False)  # per frame: the segment's box, or None
    detected_boxes: list[Box | None] = field(repr=False)  # per frame, before dilation


@dataclass
class _Run:
    """Detections at one position: frame indices, boxes and scores."""

    frames: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def add(self, index: int, detection: Detection) -> None:
        self.frames.append(index)
        self.boxes.append(detection.box)
        self.scores.append(detection.score)

    def reference(self) -> Box:
        return _median_box(self.boxes[-_REFERENCE_LENGTH:])


def track(
    detections: list[list[Detection]],
    *,
    width: int,
    height: int,
    fps: float,
    margin: float = 0.15,
    min_margin: int = 4,
    min_hits: int | None = None,
    max_gap_s: float = 1.0,
    edge_gap_s: float = 0.25,
) -> Track:
    """One box (or None) per frame.

    margin: dilation on each side, as a fraction of the box's width (left/right) and height
        (top/bottom), at least `min_margin` pixels.
    min_hits: fewest detections a position needs to count (default: 0.2 s of frames, >= 3),
        unless it was seen in every frame up to the start or end of the video.
    max_gap_s: longest run of missed frames filled between two detections at one position.
    edge_gap_s: longest undetected gap at a segment edge that is filled from its neighbours.
    """
    if width < 1 or height < 1 or fps <= 0:
        raise ValueError("width, height and fps must be positive")
    frames = len(detections)
    hits_needed = min_hits if min_hits is not None else max(3, round(0.2 * fps))
    max_gap = max(0, round(max_gap_s * fps))
    edge_gap = max(0, round(edge_gap_s * fps))
    runs = [
        r for r in _runs(detections, max_gap) if len(r.frames) >= hits_needed or _at_edge(r, frames)
    ]
    pieces = _timeline(runs, frames)
    pieces = _close_edge_gaps(pieces, frames, edge_gap)
    segments = []
    for start, end, run in pieces:
        hits = sum(start <= i <= end for i in run.frames)
        detected = _median_box(run.boxes)
        box = dilate_box(detected, width, height, margin=margin, min_margin=min_margin)
        segments.append(Segment(start, end, box, detected, hits))
    boxes: list[Box | None] = [None] * frames
    detected_boxes: list[Box | None] = [None] * frames
    for segment in segments:
        for i in range(segment.start, segment.end + 1):
            boxes[i], detected_boxes[i] = segment.box, segment.detected
    return Track(frames, segments, boxes, detected_boxes)


def _runs(detections: list[list[Detection]], max_gap: int) -> list[_Run]:
    """Group detections by position; a run ends after `max_gap` frames without one."""
    open_runs: list[_Run] = []
    closed: list[_Run] = []
    for index, frame_detections in enumerate(detections):
        still_open: list[_Run] = []
        for run in open_runs:
            (still_open if index - run.frames[-1] - 1 <= max_gap else closed).append(run)
        open_runs = still_open
        taken: set[int] = set()
        for detection in sorted(frame_detections, key=lambda d: -d.score):
            best, best_iou = None, MATCH_IOU
            for k, run in enumerate(open_runs):
                overlap = iou(detection.box, run.reference())
                if k not in taken and overlap >= best_iou:
                    best, best_iou = k, overlap
            if best is None:
                open_runs.append(_Run())
                best = len(open_runs) - 1
            open_runs[best].add(index, detection)
            taken.add(best)
    return closed + open_runs


def _at_edge(run: _Run, frames: int) -> bool:
    """A short run is still real when it reaches the first or last frame and was seen in
    every one of its frames: the mark jumped just before the video ended (or just after it
    began), so it had no time to collect `min_hits`."""
    dense = run.frames[-1] - run.frames[0] + 1 == len(run.frames)
    return dense and (run.frames[0] == 0 or run.frames[-1] == frames - 1)


def _timeline(runs: list[_Run], frames: int) -> list[tuple[int, int, _Run]]:
    """One run per frame: stronger runs (more total score) take their span first, weaker ones
    keep what is left. Returns (start, end, run) pieces sorted by start, each with a hit."""
    owner: list[int | None] = [None] * frames
    order = sorted(range(len(runs)), key=lambda k: -sum(runs[k].scores))
    for k in order:
        for i in range(runs[k].frames[0], runs[k].frames[-1] + 1):
            if owner[i] is None:
                owner[i] = k
    pieces = []
    i = 0
    while i < frames:
        current = owner[i]
        j = i
        while j + 1 < frames and owner[j + 1] == current:
            j += 1
        if current is not None and any(i <= f <= j for f in runs[current].frames):
            pieces.append((i, j, runs[current]))
        i = j + 1
    return pieces


def _close_edge_gaps(
    pieces: list[tuple[int, int, _Run]], frames: int, edge_gap: int
) -> list[tuple[int, int, _Run]]:
    """Fill undetected gaps of at most `edge_gap` frames: between two segments the earlier one
    takes the first half (the jump happened somewhere inside), at the ends of the video the
    first/last segment reaches the edge."""
    closed: list[tuple[int, int, _Run]] = []
    for n, (start, end, run) in enumerate(pieces):
        if n == 0 and start <= edge_gap:
            start = 0
        if closed:
            prev_start, prev_end, prev_run = closed[-1]
            gap = start - prev_end - 1
            if 0 < gap <= edge_gap:
                split = prev_end + (gap + 1) // 2  # last frame of the earlier segment
                closed[-1] = (prev_start, split, prev_run)
                start = split + 1
        if n == len(pieces) - 1 and frames - 1 - end <= edge_gap:
            end = frames - 1
        closed.append((start, end, run))
    return closed


def _median_box(boxes: list[Box]) -> Box:
    x1, y1, x2, y2 = np.median(np.asarray(boxes, dtype=np.float64), axis=0)
    return int(np.floor(x1)), int(np.floor(y1)), int(np.ceil(x2)), int(np.ceil(y2))


def dilate_box(
    box: Box, width: int, height: int, *, margin: float = 0.15, min_margin: int = 4
) -> Box:
    """`box` grown by `margin` of its size on each side (at least `min_margin` px), clipped."""
    x1, y1, x2, y2 = box
    pad_x = max(min_margin, int(np.ceil(margin * (x2 - x1) - 1e-9)))
    pad_y = max(min_margin, int(np.ceil(margin * (y2 - y1) - 1e-9)))
    return (
        max(0, x1 - pad_x),
        max(0, y1 - pad_y),
        min(width, x2 + pad_x),
        min(height, y2 + pad_y),
    )


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (x2/y2 exclusive)."""
    inter_w = min(a[2], b[2]) - max(a[0], b[0])
    inter_h = min(a[3], b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union
