"""One decode pass that finds the mark in every frame without running the detector on each.

YOLO on every frame costs more than the whole re-encode on a CPU. The Sora mark sits still for
seconds, then jumps, so the scan looks at every `stride`-th frame (a *sample*):

- while a mark is known, the sample is checked with a detection on a small crop around it
  (about a tenth of a whole frame's cost); only when it is not confirmed there does the
  whole frame go through the detector;
- when two consecutive samples disagree (the mark jumped, appeared or left), the frames
  between them are bisected with crop checks to find the frame where it changed.

Every frame then gets a detection list as if it had been detected itself (frames between
two agreeing samples share the sample's detection), which the tracker turns into segments.
Frames are kept only until their stride is resolved (`stride` frames, never the video), and
each is handed to `on_frame` with its mark box once known (the camera-motion estimator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from executor.engine.colour import yuv_to_rgb
from executor.engine.detect import Detection, Detector, View
from executor.engine.frames import Box, Frame
from executor.engine.track import MATCH_IOU, iou

STRIDE = 8  # frames between samples: a quarter of a second at 30 fps
IDLE_FACTOR = 2  # the stride is this many times longer while no mark is known
CROP_PAD = 1.0  # context around the known box in a crop check, in box sizes per side
MIN_CROP = 96  # network pixels: the detector needs some context around a small mark
# A crop check asks whether the mark is still where it was (or where it went): a known place
# and shape, so a weaker answer counts there (a mark fading in or out, a hard background).
# The overlay check confirms every segment before a pixel changes.
KNOWN_CONF_SHARE = 0.5
# A weakly held mark may be a look-alike (white text, a station logo) that hides the real
# one: the crop checks keep confirming it and the whole frame is never searched again. So
# while the held mark scores below STRONG_SCORE, every REVISIT-th sample also searches the
# whole frame, and a stronger detection elsewhere takes over.
STRONG_SCORE = 0.6
REVISIT = 2

FrameObserver = Callable[[Frame, Box | None], None]
Progress = Callable[[int], None]  # frames resolved so far


@dataclass
class ScanStats:
    frames: int = 0
    whole: int = 0  # whole-frame detections
    crops: int = 0  # crop checks

    @property
    def detector_images(self) -> int:
        return self.whole + self.crops


class Scanner:
    """Feed frames in order with `add`, then `finish`; `detections[i]` is frame i's list."""

    def __init__(
        self,
        detector: Detector,
        *,
        stride: int = STRIDE,
        on_frame: FrameObserver | None = None,
        progress: Progress | None = None,
    ) -> None:
        if stride < 1:
            raise ValueError("stride must be at least 1")
        self.detector = detector
        self.stride = stride
        self.on_frame = on_frame
        self.progress = progress
        self.detections: list[list[Detection]] = []
        self.stats = ScanStats()
        self._pending: list[Frame] = []  # frames after the last sample, not yet resolved
        self._state: Detection | None = None  # the mark at the last sample
        self._held = 0  # samples the current mark has been held by crop checks

    def add(self, frame: Frame) -> None:
        if not self.detections and not self._pending:
            # The first frame is a sample of its own: every later stride compares with it.
            self._state = self._look(frame, None)
            self._emit([frame], [self._state])
            return
        self._pending.append(frame)
        # With no mark in sight each sample is a whole-frame detection: look less often.
        limit = self.stride if self._state is not None else self.stride * IDLE_FACTOR
        if len(self._pending) >= limit:
            self._resolve()

    def finish(self) -> list[list[Detection]]:
        if self._pending:
            self._resolve()
        return self.detections

    # -- one stride ---------------------------------------------------------------------

    def _resolve(self) -> None:
        frames, self._pending = self._pending, []
        before = self._state
        after = self._look(frames[-1], before)
        states: list[Detection | None] = [after] * len(frames)
        if after is not None and before is not None and _same(before, after):
            self._held += 1
            rival = self._revisit(frames[-1], after)
            if rival is not None:
                # Both show in the last frame: only where the stronger one came is searched.
                states = self._bisect(frames, None, rival, before_state=before)
                after = rival
        elif not _same(before, after) and len(frames) > 1:
            states = self._bisect(frames, before, after)
        if not _same(before, after):
            self._held = 0
        self._state = after
        self._emit(frames, states)

    def _revisit(self, frame: Frame, held: Detection) -> Detection | None:
        """A stronger detection elsewhere in the whole frame, when the held mark is weak and
        it is time to look again; else None."""
        if held.score >= STRONG_SCORE or self._held % REVISIT:
            return None
        found = self._whole(frame)
        if found is None or _same(found, held) or found.score <= held.score:
            return None
        return found

    def _bisect(
        self,
        frames: list[Frame],
        before: Detection | None,
        after: Detection | None,
        *,
        before_state: Detection | None = None,
    ) -> list[Detection | None]:
        """States of `frames` (the last is the sample showing `after`): two binary searches,
        for the last frame where the mark still sits where it was (probing there) and for
        the first frame where it sits where it went (probing there). The frames between
        show neither (the mark was away between two places) and keep no mark, so nothing
        is repainted where nothing is."""
        seen: dict[int, Detection] = {}
        last = len(frames) - 1
        gone = 0  # first frame without `before`
        if before is not None:
            low, high = 0, last  # frames[last] is known not to show `before`
            while low < high:
                middle = (low + high) // 2
                found = self._check(frames[middle], before.box)
                if found is not None:
                    seen[middle] = found
                    low = middle + 1
                else:
                    high = middle
            gone = low
        came = last + 1 if after is None else last  # first frame showing `after`
        if after is not None:
            low, high = gone, last
            while low < high:
                middle = (low + high) // 2
                if self._check(frames[middle], after.box) is not None:
                    high = middle
                else:
                    low = middle + 1
            came = low
            # A mark fading in is missed by a check now and then: the frames left between
            # the two places are each looked at once more, from the first, before they keep
            # no mark.
            came = next(
                (k for k in range(gone, came) if self._check(frames[k], after.box) is not None),
                came,
            )
        # `before_state`: what the frames show until `after` comes, when `before` was not
        # searched for (it is still there in the last frame).
        waiting = before_state if before is None else None
        return [
            seen.get(k, before) if k < gone else (after if k >= came else waiting)
            for k in range(len(frames))
        ]

    def _emit(self, frames: list[Frame], states: list[Detection | None]) -> None:
        for frame, state in zip(frames, states, strict=True):
            self.detections.append([] if state is None else [state])
            if self.on_frame is not None:
                self.on_frame(frame, None if state is None else state.box)
        self.stats.frames = len(self.detections)
        if self.progress is not None:
            self.progress(len(self.detections))

    # -- looking at one frame -----------------------------------------------------------

    def _look(self, frame: Frame, known: Detection | None) -> Detection | None:
        """The mark in a sample: confirmed on a crop around `known`, else searched for in
        the whole frame."""
        if known is not None:
            found = self._check(frame, known.box)
            if found is not None:
                return found
        return self._whole(frame)

    def _whole(self, frame: Frame) -> Detection | None:
        self.stats.whole += 1
        gain = self.detector.scale_for(frame.width, frame.height)
        image = network_image(frame, gain, (0, 0, frame.width, frame.height))
        view = View(gain=gain, frame_size=(frame.width, frame.height))
        found = self.detector.detect_scaled([image], [view])[0]
        return found[0] if found else None

    def _check(self, frame: Frame, box: Box) -> Detection | None:
        """The detection on a crop around `box` that matches it, if any."""
        self.stats.crops += 1
        gain = self.detector.scale_for(frame.width, frame.height)
        region = crop_region(box, gain, frame.width, frame.height)
        image = network_image(frame, gain, region)
        view = View(
            gain=gain,
            frame_size=(frame.width, frame.height),
            left=round(region[0] * gain),
            top=round(region[1] * gain),
        )
        conf = self.detector.conf * KNOWN_CONF_SHARE
        for detection in self.detector.detect_scaled([image], [view], conf=conf)[0]:
            if iou(detection.box, box) >= MATCH_IOU:
                return detection
        return None


def crop_region(box: Box, gain: float, width: int, height: int) -> Box:
    """The frame region a crop check looks at: the box with CROP_PAD of context each side,
    at least MIN_CROP network pixels, aligned to even frame pixels, inside the frame."""
    x1, y1, x2, y2 = box
    minimum = MIN_CROP / gain
    pad_x = max(CROP_PAD * (x2 - x1), (minimum - (x2 - x1)) / 2)
    pad_y = max(CROP_PAD * (y2 - y1), (minimum - (y2 - y1)) / 2)
    left = max(0, int(x1 - pad_x) & ~1)
    top = max(0, int(y1 - pad_y) & ~1)
    right = min(width, int(np.ceil(x2 + pad_x)))
    bottom = min(height, int(np.ceil(y2 + pad_y)))
    return left, top, right, bottom


def network_image(frame: Frame, gain: float, region: Box) -> np.ndarray:
    """RGB of a frame region scaled by `gain`, straight from the YUV planes: scaling first
    and converting the small result costs a fraction of converting the whole frame."""
    x1, y1, x2, y2 = region
    width = max(1, round((x2 - x1) * gain))
    height = max(1, round((y2 - y1) * gain))
    shrink = cv2.INTER_AREA if gain < 1 else cv2.INTER_LINEAR
    luma = cv2.resize(frame.y[y1:y2, x1:x2], (width, height), interpolation=shrink)
    chroma = (slice(y1 // 2, (y2 + 1) // 2), slice(x1 // 2, (x2 + 1) // 2))
    cb = cv2.resize(frame.u[chroma], (width, height), interpolation=cv2.INTER_LINEAR)
    cr = cv2.resize(frame.v[chroma], (width, height), interpolation=cv2.INTER_LINEAR)
    return yuv_to_rgb(luma, cb, cr, frame.colour, (frame.width, frame.height))


def _same(a: Detection | None, b: Detection | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return iou(a.box, b.box) >= MATCH_IOU
