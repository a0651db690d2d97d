"""Luma crops of where the mark sits, gathered during the analysis pass (no extra decode).

The scanner reports each frame's mark box in order. Consecutive frames whose boxes overlap
form a *run*: the mark sitting still. A run keeps aligned crops of one fixed region around
its first box (the mark and a ring of background around it), thinned evenly when it grows
long, and *controls*: the same region in frames just before the mark arrived and just after
it left, when nothing covered it. Confirmation and the matte estimate read these.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from executor.engine.frames import Box
from executor.engine.inpaint.plan import intersects
from executor.engine.overlay.median import half_level_median
from executor.engine.track import iou

MAX_CROPS = 64  # per run: past this, every other crop is dropped (still evenly spread)
STAT_CROPS = 48  # crops (evenly spread) that the per-pixel statistics of a run look at
MAX_CONTROLS = 12  # frames per side without the mark that the overlay check compares with
# Frames per side kept beside a run: the controls, and where a detection missed the mark
# (a fade, the frames after a jump) the frames `reach` gives back to the run.
NEIGHBOURS = 24
HISTORY_BYTES = 64 << 20  # the full luma frames kept for a run that starts now, at most
CONTEXT = 0.8  # the region around a run's box, in box sizes per side
MATCH_IOU = 0.5


@dataclass
class RunEvidence:
    """Where one mark run sat and what its region looked like."""

    first: int  # first frame of the run
    last: int  # last frame of the run
    box: Box  # the detector's box at the run's start, in frame pixels
    region: Box  # the crops' region in frame pixels (box with context, clipped)
    frame_size: tuple[int, int] = (0, 0)  # width, height of the video
    frames: list[int] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)  # luma, uint8, region-sized
    controls: list[np.ndarray] = field(default_factory=list)  # the region without the mark
    control_frames: list[int] = field(default_factory=list)  # their frame indices
    step: int = 1  # keep every `step`-th frame of the run (doubles when thinning)
    _cache: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def box_in_region(self) -> Box:
        x1, y1, x2, y2 = self.box
        rx, ry = self.region[0], self.region[1]
        return x1 - rx, y1 - ry, x2 - rx, y2 - ry

    def select(self, trim: int = 0) -> tuple[list[int], np.ndarray]:
        """Frame indices and float32 NxHxW crops of the run, less `trim` frames at each end
        (the mark may fade there); every crop when that would leave fewer than four."""
        keep = [
            (index, crop)
            for index, crop in zip(self.frames, self.crops, strict=True)
            if self.first + trim <= index <= self.last - trim
        ]
        if len(keep) < 4:
            keep = list(zip(self.frames, self.crops, strict=True))
        return [index for index, _ in keep], np.stack([crop for _, crop in keep]).astype(np.float32)

    def stack(self, trim: int = 0) -> np.ndarray:
        """Up to STAT_CROPS of the run's crops, evenly spread, as float32 NxHxW (see
        `select`): enough for per-pixel medians and spreads, at a fraction of the cost."""
        key = ("stack", trim)
        if key not in self._cache:
            crops = [
                crop
                for index, crop in zip(self.frames, self.crops, strict=True)
                if self.first + trim <= index <= self.last - trim
            ]
            if len(crops) < 4:
                crops = self.crops
            if len(crops) > STAT_CROPS:
                keep = np.linspace(0, len(crops) - 1, STAT_CROPS).round().astype(int)
                crops = [crops[k] for k in keep]
            self._cache[key] = np.stack(crops).astype(np.float32)
        return self._cache[key]

    def edges(self, trim: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel of the region: the energy of the edges that stay put over the run (the
        median of the gradients, Dekel et al.'s estimate of an overlay's) and of all edges
        (the mean energy); computed once, read by the overlay check and the extent."""
        fixed_x, fixed_y, total = self._gradients(trim)
        return fixed_x**2 + fixed_y**2, total

    def fixed_gradients(self, trim: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The signed gradients (x, y) that stay put over the run: the overlay's edges."""
        fixed_x, fixed_y, _ = self._gradients(trim)
        return fixed_x, fixed_y

    def _gradients(self, trim: int) -> np.ndarray:
        key = ("gradients", trim)
        if key not in self._cache:
            gy, gx = np.gradient(self.stack(trim), axis=(1, 2))
            total = (gx**2 + gy**2).mean(axis=0) + 1e-3
            self._cache[key] = np.stack([half_level_median(gx), half_level_median(gy), total])
        return self._cache[key]

    def control_stack(self) -> np.ndarray | None:
        """The MAX_CONTROLS frames nearest the run on each side that show no mark there."""
        pairs = list(zip(self.control_frames, self.controls, strict=True))
        before = [crop for index, crop in pairs if index < self.first]
        after = [crop for index, crop in pairs if index > self.last]
        near = before[-MAX_CONTROLS:] + after[:MAX_CONTROLS]
        return np.stack(near).astype(np.float32) if near else None

    def take_back(self, frames: set[int]) -> None:
        """Frames found to show the mark after all are no controls."""
        pairs = zip(self.control_frames, self.controls, strict=True)
        kept = [(index, crop) for index, crop in pairs if index not in frames]
        self.control_frames = [f for f, _ in kept]
        self.controls = [c for _, c in kept]

    def _add(self, index: int, crop: np.ndarray) -> None:
        self._cache.clear()
        self.last = index
        if (index - self.first) % self.step:
            return
        self.frames.append(index)
        self.crops.append(crop)
        if len(self.crops) > MAX_CROPS:
            self.step *= 2
            kept = [
                (f, c)
                for f, c in zip(self.frames, self.crops, strict=True)
                if (f - self.first) % self.step == 0
            ]
            self.frames = [f for f, _ in kept]
            self.crops = [c for _, c in kept]


class EvidenceCollector:
    """Feed every frame's luma and mark box in order (`add`), then read `runs`."""

    def __init__(self, width: int, height: int, *, history: int = NEIGHBOURS) -> None:
        self.width, self.height = width, height
        self.runs: list[RunEvidence] = []
        self._current: RunEvidence | None = None
        # Recent frames (index, luma, mark box): the "before" neighbours of a run that starts
        # now; fewer of them for a large picture.
        history = max(MAX_CONTROLS, min(history, HISTORY_BYTES // max(1, width * height)))
        self._recent: deque[tuple[int, np.ndarray, Box | None]] = deque(maxlen=history)
        # Runs that ended lately and still collect "after" controls.
        self._closing: list[RunEvidence] = []

    def add(self, index: int, luma: np.ndarray, mark: Box | None) -> None:
        for run in list(self._closing):
            if mark is None or not intersects(mark, run.region):
                run.controls.append(_crop(luma, run.region))
                run.control_frames.append(index)
            if index - run.last >= NEIGHBOURS:
                self._closing.remove(run)
        current = self._current
        if current is not None and (mark is None or iou(mark, current.box) < MATCH_IOU):
            self._closing.append(current)
            self._current = current = None
        if mark is not None:
            if current is None:
                current = self._start(index, mark)
            current._add(index, _crop(luma, current.region))
        self._recent.append((index, luma, mark))

    def _start(self, index: int, mark: Box) -> RunEvidence:
        region = _grow(mark, CONTEXT, self.width, self.height)
        run = RunEvidence(
            first=index, last=index, box=mark, region=region, frame_size=(self.width, self.height)
        )
        for seen_at, luma, seen in self._recent:
            if seen is None or not intersects(seen, region):
                run.controls.append(_crop(luma, region))
                run.control_frames.append(seen_at)
        self.runs.append(run)
        self._current = run
        return run

    def run_for(self, start: int, end: int, box: Box) -> RunEvidence | None:
        """The run that best matches a tracked segment (most frames shared, boxes overlapping)."""
        best, best_shared = None, 0
        for run in self.runs:
            shared = min(end, run.last) - max(start, run.first) + 1
            if shared > best_shared and iou(run.box, box) >= MATCH_IOU:
                best, best_shared = run, shared
        return best


def _crop(luma: np.ndarray, region: Box) -> np.ndarray:
    x1, y1, x2, y2 = region
    return np.array(luma[y1:y2, x1:x2], dtype=np.uint8, copy=True)


def _grow(box: Box, share: float, width: int, height: int) -> Box:
    """The box with context: `share` of its size each side, and at least twice its height
    across and half its width up and down, since a box short of the mark (the logo without
    the word, one line without the handle) is still to be grown to all of it."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    dx, dy = round(max(w * share, 2 * h)), round(max(h * share, w / 2))
    return max(0, x1 - dx), max(0, y1 - dy), min(width, x2 + dx), min(height, y2 + dy)
