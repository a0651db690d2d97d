"""The Inpainter interface and the pieces every implementation shares: where to read, how to
blend a fill into a frame without a seam, and how to leave every other pixel bit-exact."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import cv2
import numpy as np

from executor.engine.cancel import ShouldCancel
from executor.engine.frames import Box, Frame, block_means
from executor.engine.inpaint.plan import MarkPlan

if TYPE_CHECKING:
    from executor.engine.inpaint.motion import CameraPath

Progress = Callable[[float], None]  # fraction 0..1 of the inpainter's own preparation


class InpainterError(Exception):
    """the inpainter could not be set up"""


class Inpainter(ABC):
    """Repaints the planned box of each frame.

    The pipeline calls `prepare` once (with the plan and camera path), then, in the last
    pass, `see` on every frame as it is decoded and `fill` on batches of frames in
    presentation order, just before they are encoded; an inpainter that needs other frames
    keeps what it needs from `see` (`lookahead` says how far ahead that reaches).
    """

    name: ClassVar[str]
    # True when `prepare` wants the camera path: the pipeline then estimates it during the
    # detection pass (one decode fewer) and hands it over.
    uses_motion: ClassVar[bool] = False

    def prepare(
        self,
        source: Path,
        plan: MarkPlan,
        *,
        progress: Progress | None = None,
        should_cancel: ShouldCancel | None = None,
        camera: CameraPath | None = None,
    ) -> None:
        """Gather what `fill` needs; the default needs nothing. `camera`: the source's
        camera path when already known (else an inpainter that needs it estimates it)."""
        return None

    @abstractmethod
    def fill(self, frames: Sequence[Frame], plan: MarkPlan) -> None:
        """Repaint, in place, `plan.box(frame.index)` of each frame that has one."""

    def repaint(self, frames: Sequence[Frame], plan: MarkPlan) -> None:
        """`fill`, then keep only the planned mask's pixels of the frames that have one (the
        pipeline calls this): every inpainter honours a user's mask the same way, and the
        pixels outside it stay bit-exact."""
        kept = [
            (frame, _Planes.read(frame, box), weights)
            for frame in frames
            if (weights := plan.mask(frame.index)) is not None
            and (box := plan.box(frame.index)) is not None
        ]
        self.fill(frames, plan)
        for frame, before, weights in kept:
            before.blend_into(frame, weights)

    def lookahead(self) -> int:
        """How many frames the last pass's decode must be allowed to run ahead of `fill`
        (the frames it repaints from that lie ahead); by default none."""
        return 0

    def see(self, frame: Frame) -> None:  # noqa: B027 (optional hook, not abstract)
        """Called with every frame of the last pass, in order, as soon as it is decoded and
        before any of it is repainted (on the decoding thread): an inpainter that takes
        sources from other frames can keep them from this decode instead of decoding again."""

    def seen_all(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """The last pass's decode has ended: no more frames will come through `see`."""

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release what `prepare` started (worker threads); the pipeline always calls it."""


def grow(box: Box, pad: int, width: int, height: int) -> Box:
    """`box` grown by `pad` on every side, clipped to the frame, on even coordinates."""
    x1, y1, x2, y2 = box
    x1, y1 = max(0, x1 - pad), max(0, y1 - pad)
    x2, y2 = min(width, x2 + pad), min(height, y2 + pad)
    x1, y1 = x1 - x1 % 2, y1 - y1 % 2
    x2, y2 = min(width, x2 + x2 % 2), min(height, y2 + y2 % 2)
    return x1, y1, x2, y2


def box_mask(outer: Box, box: Box, weights: np.ndarray | None = None) -> np.ndarray:
    """uint8 mask over `outer`: 1 inside `box`, or with `weights` (over `box`) only where
    they are above 0."""
    ox1, oy1, ox2, oy2 = outer
    mask = np.zeros((oy2 - oy1, ox2 - ox1), dtype=np.uint8)
    x1, y1, x2, y2 = box
    inside = (slice(max(0, y1 - oy1), max(0, y2 - oy1)), slice(max(0, x1 - ox1), max(0, x2 - ox1)))
    mask[inside] = 1 if weights is None else (weights > 0)
    return mask


class _Planes:
    """A frame's YUV pixels over a box, as decoded, to blend back by a mask's weights."""

    def __init__(self, box: Box, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        self.box, self.y, self.u, self.v = box, y, u, v

    @staticmethod
    def _chroma(box: Box) -> tuple[slice, slice]:
        x1, y1, x2, y2 = box
        return slice(y1 // 2, (y2 + 1) // 2), slice(x1 // 2, (x2 + 1) // 2)

    @classmethod
    def read(cls, frame: Frame, box: Box) -> _Planes:
        x1, y1, x2, y2 = box
        chroma = cls._chroma(box)
        return cls(
            box, frame.y[y1:y2, x1:x2].copy(), frame.u[chroma].copy(), frame.v[chroma].copy()
        )

    def blend_into(self, frame: Frame, weights: np.ndarray) -> None:
        """frame = before + (frame - before) * weights: exactly `before` where weights are 0
        (chroma: where all four luma pixels of the block are)."""
        x1, y1, x2, y2 = self.box
        _mix(frame.y[y1:y2, x1:x2], self.y, weights)
        # the weights on the 2x2 grid of the chroma planes (pixels outside the box weigh 0)
        ay, ax = y1 - y1 % 2, x1 - x1 % 2
        grid = np.zeros((2 * self.u.shape[0], 2 * self.u.shape[1]), dtype=np.float32)
        grid[y1 - ay : y2 - ay, x1 - ax : x2 - ax] = weights
        block = block_means(grid)
        chroma = self._chroma(self.box)
        _mix(frame.u[chroma], self.u, block)
        _mix(frame.v[chroma], self.v, block)


def _mix(target: np.ndarray, before: np.ndarray, weights: np.ndarray) -> None:
    base = before.astype(np.float32)
    mixed = base + (target.astype(np.float32) - base) * weights
    target[...] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def feather_for(box: Box, frame_width: int, frame_height: int, width: int) -> np.ndarray:
    """Weights over `box` itself, fading only on the sides that are not on a frame edge."""
    x1, y1, x2, y2 = box
    ys = np.arange(y1, y2, dtype=np.float32) + 0.5
    xs = np.arange(x1, x2, dtype=np.float32) + 0.5
    width = max(1, width)
    wy = np.ones_like(ys)
    wx = np.ones_like(xs)
    if y1 > 0:
        wy = np.minimum(wy, (ys - y1) / width)
    if y2 < frame_height:
        wy = np.minimum(wy, (y2 - ys) / width)
    if x1 > 0:
        wx = np.minimum(wx, (xs - x1) / width)
    if x2 < frame_width:
        wx = np.minimum(wx, (x2 - xs) / width)
    return np.outer(np.clip(wy, 0, 1), np.clip(wx, 0, 1)).astype(np.float32)


def composite(frame: Frame, box: Box, fill: np.ndarray, fill_box: Box, feather_px: int) -> None:
    """Blend `fill` (RGB over `fill_box`, which contains `box`) into `frame` inside `box`,
    feathered over its outer `feather_px` pixels. Pixels outside `box` keep their exact
    decoded values (luma per pixel, chroma per 2x2 block wholly outside)."""
    region_box, original = frame.read_region(box)
    rx1, ry1, rx2, ry2 = region_box
    fx1, fy1, _, _ = fill_box
    patch = fill[ry1 - fy1 : ry2 - fy1, rx1 - fx1 : rx2 - fx1].astype(np.float32)
    alpha = np.zeros(original.shape[:2], dtype=np.float32)
    x1, y1, x2, y2 = box
    alpha[y1 - ry1 : y2 - ry1, x1 - rx1 : x2 - rx1] = feather_for(
        box, frame.width, frame.height, feather_px
    )
    # alpha as three channels: numpy broadcasting over a last axis of three is several times
    # slower than the same arithmetic on whole arrays.
    alpha3 = np.asarray(cv2.merge([alpha, alpha, alpha]))
    blended = patch * alpha3 + original.astype(np.float32) * (1.0 - alpha3)
    keep_y = frame.y[ry1:ry2, rx1:rx2].copy()
    chroma = (slice(ry1 // 2, (ry2 + 1) // 2), slice(rx1 // 2, (rx2 + 1) // 2))
    keep_u, keep_v = frame.u[chroma].copy(), frame.v[chroma].copy()
    frame.write_region(region_box, np.clip(np.rint(blended), 0, 255).astype(np.uint8))
    untouched = alpha <= 0.0
    frame.y[ry1:ry2, rx1:rx2][untouched] = keep_y[untouched]
    height, width = untouched.shape
    padded = untouched
    if height % 2 or width % 2:  # (np.pad copies even when it adds nothing)
        padded = np.pad(untouched, ((0, height % 2), (0, width % 2)), mode="edge")
    block_untouched = padded[0::2, 0::2] & padded[0::2, 1::2] & padded[1::2, 0::2]
    block_untouched &= padded[1::2, 1::2]
    frame.u[chroma][block_untouched] = keep_u[block_untouched]
    frame.v[chroma][block_untouched] = keep_v[block_untouched]
