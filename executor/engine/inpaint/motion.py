"""Global camera motion (pan, zoom, small rotation) from downscaled luma, so that a region of
frame t can be found again in frame u.

Each frame is matched against a keyframe (features tracked with pyramidal Lucas-Kanade, a
similarity fitted with RANSAC; mark boxes masked out), not against its predecessor: on a
still shot every estimate is then independent noise around the identity instead of a random
walk. The path is smoothed over a few frames, and a shot whose path never leaves a pixel of
the identity is declared static: exactly the identity, so fills are bit-stable over time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from executor.engine.cancel import ShouldCancel, check_cancel
from executor.engine.frames import Box
from executor.engine.inpaint.plan import MarkPlan
from executor.engine.reader import VideoReader

THUMB_WIDTH = 320
_MIN_POINTS = 12
_STATIC_PX = 1.0  # a path that never moves the frame corners further than this is static


@dataclass
class CameraPath:
    """`matrices[t]` (3x3) maps reference coordinates to frame t's pixel coordinates."""

    matrices: list[np.ndarray]
    static: bool
    _inverses: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # warp() runs for every (frame, candidate source) pair: invert each matrix once.
        self._inverses = [np.linalg.inv(matrix) for matrix in self.matrices]

    def warp(self, t: int, u: int) -> np.ndarray:
        """2x3 affine mapping frame t's pixel coordinates to frame u's."""
        if self.static or t == u:
            return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        return (self.matrices[u] @ self._inverses[t])[:2]

    def map_box(self, t: int, u: int, box: Box) -> tuple[float, float, float, float]:
        """Bounding box (floats) in frame u of `box` in frame t."""
        x1, y1, x2, y2 = box
        corners = np.array([[x1, y1, 1.0], [x2, y1, 1.0], [x1, y2, 1.0], [x2, y2, 1.0]])
        mapped = corners @ self.warp(t, u).T
        return (
            float(mapped[:, 0].min()),
            float(mapped[:, 1].min()),
            float(mapped[:, 0].max()),
            float(mapped[:, 1].max()),
        )


def estimate_path(
    source: Path,
    plan: MarkPlan,
    *,
    progress: Callable[[float], None] | None = None,
    should_cancel: ShouldCancel | None = None,
) -> CameraPath:
    """Decode `source` once and estimate its camera path."""
    estimator = MotionEstimator()
    with VideoReader(source, copy=False) as reader:
        total = max(1, reader.info.frame_count)
        for frame in reader:
            estimator.add(frame.y, plan.box(frame.index))
            if frame.index % 16 == 15:
                check_cancel(should_cancel)
                if progress is not None:
                    progress(min(1.0, (frame.index + 1) / total))
    return estimator.finish()


class MotionEstimator:
    """The camera path built frame by frame: `add` each frame's luma in order with where the
    mark is (kept out of the feature tracking), then `finish`.

    With `background=True` the tracking runs on a worker thread (OpenCV releases the GIL), so
    it overlaps whatever the caller does between frames, such as running the detector;
    `add` waits only when the worker falls `_BACKLOG` frames behind.
    """

    _BACKLOG = 32

    def __init__(self, *, background: bool = False) -> None:
        self._estimator: _Estimator | None = None
        self._matrices: list[np.ndarray] = []
        self._pool = ThreadPoolExecutor(1, "motion") if background else None
        self._pending: deque[Future[None]] = deque()

    def add(self, luma: np.ndarray, mark: Box | None) -> None:
        if self._pool is None:
            self._add(luma, mark)
            return
        while len(self._pending) >= self._BACKLOG:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._add, luma, mark))

    def _add(self, luma: np.ndarray, mark: Box | None) -> None:
        if self._estimator is None:
            self._estimator = _Estimator(luma.shape[1], luma.shape[0])
        self._matrices.append(self._estimator.add(luma, mark))

    def finish(self) -> CameraPath:
        self.close()
        if self._estimator is None:
            raise ValueError("no frames were added")
        smoothed = _smooth(self._matrices, sigma=2.0)
        static = _is_static(smoothed, self._estimator.width, self._estimator.height)
        return CameraPath(matrices=smoothed, static=static)

    def close(self) -> None:
        """Wait for the worker (re-raising its error) and stop it."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)


class _Estimator:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.scale = min(1.0, THUMB_WIDTH / width)
        self.size = (max(16, round(width * self.scale)), max(16, round(height * self.scale)))
        to_thumb = np.diag([self.scale, self.scale, 1.0])
        self.to_thumb, self.from_thumb = to_thumb, np.linalg.inv(to_thumb)
        self.key: np.ndarray | None = None
        self.key_points: np.ndarray | None = None
        self.key_matrix = np.eye(3)
        self.previous: np.ndarray | None = None
        self.previous_matrix = np.eye(3)
        self.tracked = 0

    def add(self, luma: np.ndarray, mark: Box | None) -> np.ndarray:
        thumb = cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA)
        mask = self._mask(mark)
        matrix = self.previous_matrix
        if self.key is None:
            self._rekey(thumb, mask, np.eye(3))
            matrix = np.eye(3)
        else:
            relative = self._track(thumb, mask)
            if relative is not None:
                matrix = self.from_thumb @ relative @ self.to_thumb @ self.key_matrix
            else:
                matrix = self._phase(thumb) @ self.previous_matrix
            if relative is None or self._needs_rekey(relative):
                self._rekey(thumb, mask, matrix)
        self.previous, self.previous_matrix = thumb, matrix
        return matrix

    def _mask(self, mark: Box | None) -> np.ndarray:
        mask = np.full((self.size[1], self.size[0]), 255, dtype=np.uint8)
        if mark is not None:
            x1, y1, x2, y2 = (int(round(v * self.scale)) for v in mark)
            mask[max(0, y1 - 3) : y2 + 3, max(0, x1 - 3) : x2 + 3] = 0
        return mask

    def _rekey(self, thumb: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> None:
        self.key, self.key_matrix = thumb, matrix
        points = cv2.goodFeaturesToTrack(
            thumb, maxCorners=400, qualityLevel=0.005, minDistance=6, mask=mask, blockSize=5
        )
        self.key_points = None if points is None else points.astype(np.float32)
        self.tracked = 0 if points is None else len(points)

    def _track(self, thumb: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
        """3x3 similarity (thumb coordinates) from the keyframe to this frame, or None."""
        if self.key is None or self.key_points is None or len(self.key_points) < _MIN_POINTS:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
            self.key, thumb, self.key_points, None, winSize=(21, 21), maxLevel=3
        )
        if moved is None:
            return None
        ok = status.ravel() == 1
        inside = np.zeros_like(ok)
        xy = moved.reshape(-1, 2)
        in_frame = (xy[:, 0] >= 0) & (xy[:, 1] >= 0)
        in_frame &= (xy[:, 0] < self.size[0] - 1) & (xy[:, 1] < self.size[1] - 1)
        inside[in_frame] = mask[xy[in_frame, 1].astype(int), xy[in_frame, 0].astype(int)] > 0
        ok &= inside
        if ok.sum() < _MIN_POINTS:
            return None
        affine, inliers = cv2.estimateAffinePartial2D(
            self.key_points[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0
        )
        if affine is None or inliers is None or int(inliers.sum()) < _MIN_POINTS:
            return None
        self.tracked = int(inliers.sum())
        return np.vstack([affine, [0.0, 0.0, 1.0]])

    def _needs_rekey(self, relative: np.ndarray) -> bool:
        key_count = 0 if self.key_points is None else len(self.key_points)
        shift = float(np.hypot(relative[0, 2], relative[1, 2]))
        scale = float(np.hypot(relative[0, 0], relative[1, 0]))
        return (
            self.tracked < max(_MIN_POINTS * 2, key_count // 2)
            or shift > 0.15 * self.size[0]
            or abs(scale - 1.0) > 0.08
        )

    def _phase(self, thumb: np.ndarray) -> np.ndarray:
        """Translation from the previous frame by phase correlation (for featureless shots)."""
        if self.previous is None:
            return np.eye(3)
        window = cv2.createHanningWindow(self.size, cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(
            self.previous.astype(np.float32), thumb.astype(np.float32), window
        )
        if response < 0.1:
            return np.eye(3)
        return np.array([[1.0, 0.0, dx / self.scale], [0.0, 1.0, dy / self.scale], [0, 0, 1.0]])


def _smooth(matrices: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    """Gaussian-smooth the similarity parameters over time (removes estimation jitter)."""
    if len(matrices) < 3:
        return matrices
    params = np.array([[m[0, 0], m[1, 0], m[0, 2], m[1, 2]] for m in matrices])
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    # Odd reflection continues a steady pan or zoom past the ends instead of stopping it.
    padded = np.pad(params, ((radius, radius), (0, 0)), mode="reflect", reflect_type="odd")
    smooth = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(4)], axis=1)
    return [np.array([[a, -b, tx], [b, a, ty], [0.0, 0.0, 1.0]]) for a, b, tx, ty in smooth]


def _is_static(matrices: list[np.ndarray], width: int, height: int) -> bool:
    corners = np.array([[0, 0, 1.0], [width, 0, 1.0], [0, height, 1.0], [width, height, 1.0]])
    for matrix in matrices:
        if np.abs(corners @ matrix[:2].T - corners[:, :2]).max() > _STATIC_PX:
            return False
    return True
