"""`temporal`: fill the box at frame t with what the same spot of the scene looked like at
other times, when the mark was elsewhere.

1. Estimate the camera path (motion.py), so a region of frame t can be found in frame u.
2. For each marked frame t pick sources: the nearest frames before and after t (up to
   `per_side` each) where that region lies inside the picture and clear of the mark.
3. Keep only the source crops (never whole frames): from the last pass's own decode, which
   then runs ahead of the repaint until each frame's sources have gone by, when the frames
   held in between fit `LOOKAHEAD_BYTES`; else from a decode of their own beside the last
   pass (gather.py).
4. At fill time warp the sources into frame t, take the median per side, and cross-fade
   from the "before" plate to the "after" plate by time distance. On a static shot the
   sources are the same for the whole segment, so the fill is one stable plate that fades
   from the clean frames before the mark arrived to the clean frames after it left; on a
   moving shot the sources follow the motion.
5. Frames with no clean source anywhere (the mark never leaves that spot) get TELEA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from loguru import logger

from executor.engine.cancel import ShouldCancel
from executor.engine.frames import Box, Frame
from executor.engine.inpaint.base import Inpainter, Progress, box_mask, composite, grow
from executor.engine.inpaint.gather import SourceGatherer
from executor.engine.inpaint.motion import CameraPath, estimate_path
from executor.engine.inpaint.plan import MarkPlan, intersects
from executor.engine.inpaint.telea import telea_array, telea_fill

Rect = tuple[int, int, int, int]
RING = 8  # pixels around the box that the fill is checked and corrected against
# Mean absolute mismatch (0..255) on the ring, after the low-frequency correction, between
# which the temporal fill is mixed with a spatial one: a source that does not match the
# surroundings (something moved through the box) is not trusted.
_TRUST, _DISTRUST = 4.0, 10.0
# Decoded frames the last pass may hold while the decoder runs ahead to their "after" sources
# (a mark that stays put for 5 s at 720p needs ~200 MB); past this the sources get a decode
# of their own.
LOOKAHEAD_BYTES = 768 * 1024 * 1024


@dataclass(frozen=True)
class _Sources:
    """Where frame t's fill comes from: frame indices before and after t (nearest first)."""

    before: tuple[int, ...]
    after: tuple[int, ...]


class TemporalInpainter(Inpainter):
    name = "temporal"
    uses_motion = True

    def __init__(
        self,
        per_side: int = 3,
        max_seconds: float = 10.0,
        fps: float = 30.0,
        lookahead_bytes: int = LOOKAHEAD_BYTES,
    ) -> None:
        self.per_side = per_side
        self.lookahead_bytes = lookahead_bytes
        self.max_distance = max(1, round(max_seconds * fps))
        self._path: CameraPath | None = None
        self._choice: dict[int, _Sources] = {}
        self._gatherer: SourceGatherer | None = None
        self._ahead = 0
        self._plates: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}

    def prepare(
        self,
        source: Path,
        plan: MarkPlan,
        *,
        progress: Progress | None = None,
        should_cancel: ShouldCancel | None = None,
        camera: CameraPath | None = None,
    ) -> None:
        if not plan.segments:
            return

        def report(start: float, span: float) -> Progress:
            return lambda fraction: progress(start + span * fraction) if progress else None

        if camera is not None:
            self._path = camera
        else:
            self._path = estimate_path(source, plan, progress=progress, should_cancel=should_cancel)
        requests = self._choose(plan, self._path)
        ahead = max((self._last_source(t) - t for t in self._choice), default=0)
        shared = ahead * plan.width * plan.height * 3 // 2 <= self.lookahead_bytes
        self._ahead = ahead
        self._gatherer = SourceGatherer(source, requests, decode=not shared)
        logger.debug(
            "temporal: {} camera, {} marked frames, {} source crops ({}), {} with no source",
            "static" if self._path.static else "moving",
            plan.marked_frames,
            len(requests),
            f"from the last pass, {ahead} frames ahead" if shared else "own decode",
            sum(1 for s in self._choice.values() if not s.before and not s.after),
        )

    def close(self) -> None:
        if self._gatherer is not None:
            self._gatherer.close()

    def see(self, frame: Frame) -> None:
        if self._gatherer is not None and not self._gatherer.decodes:
            self._gatherer.take(frame)

    def seen_all(self) -> None:
        if self._gatherer is not None and not self._gatherer.decodes:
            self._gatherer.end()

    def lookahead(self) -> int:
        return self._ahead if self._gatherer is not None and not self._gatherer.decodes else 0

    def _last_source(self, index: int) -> int:
        sources = self._choice.get(index)
        return index if sources is None else max((index, *sources.before, *sources.after))

    # -- choosing sources ---------------------------------------------------------------

    def _choose(self, plan: MarkPlan, path: CameraPath) -> dict[int, Rect]:
        """Pick sources for every marked frame; returns the crop to keep per source frame."""
        requests: dict[int, Rect] = {}
        segment_of = {}
        for segment in plan.segments:
            for t in range(segment.start, segment.end + 1):
                segment_of[t] = segment
        for t, box in enumerate(plan.boxes):
            if box is None:
                continue
            region = grow(box, RING, plan.width, plan.height)
            picks: dict[int, list[int]] = {-1: [], 1: []}
            for step in (-1, 1):
                u = t + step
                while 0 <= u < plan.frames and abs(u - t) <= self.max_distance:
                    if len(picks[step]) >= self.per_side:
                        break
                    if path.static and plan.boxes[u] == box:
                        # Same spot under a still camera: skip the whole run at once.
                        segment = segment_of[u]
                        u = segment.start - 1 if step < 0 else segment.end + 1
                        continue
                    rect = self._source_rect(plan, path, t, u, box, region)
                    if rect is not None:
                        picks[step].append(u)
                        requests[u] = _union(requests.get(u), rect)
                    u += step
            self._choice[t] = _Sources(tuple(picks[-1]), tuple(picks[1]))
        return requests

    def _source_rect(
        self, plan: MarkPlan, path: CameraPath, t: int, u: int, box: Box, region: Box
    ) -> Rect | None:
        """The crop of frame u to keep for frame t: `region` (box and ring) as seen in u,
        clipped to the picture; None unless the box itself is in the picture and clean."""
        x1, y1, x2, y2 = path.map_box(t, u, box)
        # The box must be in the picture in u (within half a pixel: a box that touches the
        # frame's edge under a still camera maps onto itself); the 3 px of slack around it
        # are cut at the edge.
        if x1 < -0.5 or y1 < -0.5 or x2 > plan.width + 0.5 or y2 > plan.height + 0.5:
            return None
        core = (
            max(0, int(np.floor(x1)) - 3),
            max(0, int(np.floor(y1)) - 3),
            min(plan.width, int(np.ceil(x2)) + 3),
            min(plan.height, int(np.ceil(y2)) + 3),
        )
        mark = plan.boxes[u]
        if mark is not None and intersects(core, mark):
            return None
        x1, y1, x2, y2 = path.map_box(t, u, region)
        return (
            max(0, int(np.floor(x1)) - 3),
            max(0, int(np.floor(y1)) - 3),
            min(plan.width, int(np.ceil(x2)) + 3),
            min(plan.height, int(np.ceil(y2)) + 3),
        )

    # -- filling ------------------------------------------------------------------------

    def fill(self, frames: Sequence[Frame], plan: MarkPlan) -> None:
        for frame in frames:
            box = plan.box(frame.index)
            if box is None:
                continue
            sources = self._choice.get(frame.index)
            weights = plan.mask(frame.index)
            if sources is None or not (sources.before or sources.after) or self._path is None:
                crop_box, fill = telea_fill(frame, box, weights=weights)
                composite(frame, box, fill, crop_box, plan.feather)
                continue
            assert self._gatherer is not None
            self._gatherer.wait_for(max(sources.before + sources.after))
            sources = self._gathered(sources)
            if not (sources.before or sources.after):  # the source ended before them
                crop_box, fill = telea_fill(frame, box, weights=weights)
                composite(frame, box, fill, crop_box, plan.feather)
                continue
            region, target = frame.read_region(grow(box, RING, frame.width, frame.height))
            plate, valid = self._fill_region(frame.index, region, sources, plan)
            # With a mask, the box's pixels outside it are known picture: the plate is
            # matched to them too, and only the mask's pixels are filled spatially.
            inside = box_mask(region, box, weights)
            fill = _match(plate, target, inside, valid, box)
            composite(frame, box, fill, region, plan.feather)

    def _gathered(self, sources: _Sources) -> _Sources:
        """`sources` less any past the source's real end (a plan longer than the video)."""
        assert self._gatherer is not None
        crops = self._gatherer.crops
        if all(u in crops for u in sources.before + sources.after):
            return sources
        return _Sources(
            tuple(u for u in sources.before if u in crops),
            tuple(u for u in sources.after if u in crops),
        )

    def _fill_region(
        self, t: int, region: Box, sources: _Sources, plan: MarkPlan
    ) -> tuple[np.ndarray, np.ndarray]:
        """The cross-faded plate over `region` and where it holds real (clean) pixels."""
        plates: list[tuple[np.ndarray, np.ndarray]] = []
        distances: list[int] = []
        for side in (sources.before, sources.after):
            if side:
                plates.append(self._plate(t, region, side, plan))
                distances.append(abs(side[0] - t))
        if len(plates) == 1:
            return plates[0]
        (before, valid_before), (after, valid_after) = plates
        weight_after = distances[0] / (distances[0] + distances[1])
        return before * (1.0 - weight_after) + after * weight_after, valid_before & valid_after

    def _plate(
        self, t: int, region: Box, side: tuple[int, ...], plan: MarkPlan
    ) -> tuple[np.ndarray, np.ndarray]:
        """Median of one side's sources warped into frame t's region (float32 RGB), and
        where every source saw clean picture."""
        assert self._path is not None
        key: tuple[object, ...] = (region, side) if self._path.static else (t, region, side)
        cached = self._plates.get(key)
        if cached is not None:
            return cached
        warped = [self._warp(t, u, region, plan) for u in side]
        pixels = [w for w, _ in warped]
        plate = _median(pixels)
        valid = np.logical_and.reduce([v for _, v in warped])
        result = plate.astype(np.float32), valid
        if self._path.static:
            self._plates[key] = result
        return result

    def _warp(self, t: int, u: int, region: Box, plan: MarkPlan) -> tuple[np.ndarray, np.ndarray]:
        assert self._path is not None
        assert self._gatherer is not None
        (cx1, cy1, cx2, cy2), crop = self._gatherer.crops[u]
        x1, y1, x2, y2 = region
        matrix = self._path.warp(t, u).copy()
        # Output pixel (i, j) of the region is frame-t pixel (x1 + j, y1 + i); find it in u.
        matrix[:, 2] += matrix[:, :2] @ np.array([x1, y1], dtype=np.float64)
        size = (x2 - x1, y2 - y1)
        # Where each output pixel comes from in u (float32 is plenty for pixel positions).
        xs = np.arange(size[0], dtype=np.float32)[None, :]
        ys = np.arange(size[1], dtype=np.float32)[:, None]
        sx = (
            np.float32(matrix[0, 0]) * xs + np.float32(matrix[0, 1]) * ys + np.float32(matrix[0, 2])
        )
        sy = (
            np.float32(matrix[1, 0]) * xs + np.float32(matrix[1, 1]) * ys + np.float32(matrix[1, 2])
        )
        valid = (sx >= cx1) & (sy >= cy1) & (sx <= cx2 - 1) & (sy <= cy2 - 1)
        mark = plan.boxes[u]
        if mark is not None:
            mx1, my1, mx2, my2 = mark
            valid &= ~((sx >= mx1 - 1) & (sx < mx2 + 1) & (sy >= my1 - 1) & (sy < my2 + 1))
        matrix[:, 2] -= np.array([cx1, cy1], dtype=np.float64)
        if _near(matrix[:, :2], np.eye(2)) and _near(matrix[:, 2], np.rint(matrix[:, 2])):
            dx, dy = (int(round(v)) for v in matrix[:, 2])
            out = np.zeros((size[1], size[0], 3), dtype=np.float32)
            ys0, xs0 = max(0, -dy), max(0, -dx)
            ys1 = min(size[1], crop.shape[0] - dy)
            xs1 = min(size[0], crop.shape[1] - dx)
            out[ys0:ys1, xs0:xs1] = crop[ys0 + dy : ys1 + dy, xs0 + dx : xs1 + dx]
            return out, valid
        warped = cv2.warpAffine(
            crop,
            matrix,
            size,
            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        return warped, valid


def _match(
    plate: np.ndarray, target: np.ndarray, inside: np.ndarray, valid: np.ndarray, box: Box
) -> np.ndarray:
    """The plate, its low frequencies corrected to the target's ring (a membrane-like,
    normalised Gaussian interpolation of the ring's difference into the box), mixed with a
    spatial fill where the ring still disagrees after that (something moved through)."""
    ring = ((1 - inside).astype(bool) & valid).astype(np.float32)
    if ring.sum() < 16:
        return plate
    # Per-pixel planes as three channels (`_channels`): numpy broadcasting over a last axis
    # of three is several times slower than the same arithmetic on whole arrays.
    ring3 = _channels(ring)
    diff = (target.astype(np.float32) - plate) * ring3
    sigma = max(3.0, min(box[2] - box[0], box[3] - box[1]) / 3.0)
    weight = _low_pass(ring, sigma)
    correction = _low_pass(diff, sigma) / _channels(np.maximum(weight, 1e-3))
    # Structure left on the ring once grain is blurred away: the plate does not fit.
    left = cv2.GaussianBlur((diff - correction * ring3), (0, 0), 1.5)
    fill = plate + correction
    # Where it does not fit, judged near each pixel (something passed through part of the
    # box in the sources: a subtitle, a hand), the spatial fill takes over there. A mask's
    # gaps between the letters are known picture too, so the judgement is local.
    gap = np.abs(left)
    mismatch = ((gap[..., 0] + gap[..., 1]) + gap[..., 2]) / 3.0  # numpy's own order of sum
    local = _low_pass(mismatch * ring, sigma) / np.maximum(weight, 1e-3)
    mix = np.clip((local - _TRUST) / (_DISTRUST - _TRUST), 0.0, 1.0).astype(np.float32)
    if float(mix.max()) > 0.0:
        mix3 = _channels(mix)
        fill = fill * (1.0 - mix3) + _spatial(target, inside) * mix3
    return fill


def _near(values: np.ndarray, targets: np.ndarray) -> bool:
    """np.allclose(values, targets) for a few finite numbers, without its array machinery
    (it cost more than the warp's own set-up, once per source and frame)."""
    return all(
        abs(value - target) <= 1e-8 + 1e-5 * abs(target)
        for value, target in zip(values.flat, targets.flat, strict=True)
    )


def _channels(plane: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.merge([plane, plane, plane]))


def _spatial(target: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """TELEA's fill where the plate does not fit, at half size when the region is large: it
    is a smooth fill (a diffusion from the edge) in any case, and at full size it was the
    repaint's largest cost on busy moving shots."""
    height, width = inside.shape
    if min(height, width) < 64:
        return telea_array(target, inside).astype(np.float32)
    size = (width // 2, height // 2)
    small = cv2.resize(target, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(inside, size, interpolation=cv2.INTER_NEAREST)
    filled = telea_array(small, cv2.dilate(small_mask, np.ones((3, 3), np.uint8)), radius=3)
    spatial = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    return spatial.astype(np.float32)


def _low_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur for a wide sigma, done at a reduced size: the result holds only low
    frequencies anyway, and a full-size wide kernel was the fill's largest cost."""
    height, width = image.shape[:2]
    factor = int(min(sigma / 3.0, width / 8.0, height / 8.0))
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    small = cv2.resize(
        image, (-(-width // factor), -(-height // factor)), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _median(images: list[np.ndarray]) -> np.ndarray:
    """Per-pixel median; for up to three images by min/max (np.median sorts: ~5x slower)."""
    if len(images) == 1:
        return images[0]
    if len(images) == 2:
        return (images[0] + images[1]) * 0.5
    if len(images) == 3:
        a, b, c = images
        return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    return np.median(np.stack(images), axis=0)  # type: ignore[no-any-return]


def _union(a: Rect | None, b: Rect) -> Rect:
    if a is None:
        return b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
