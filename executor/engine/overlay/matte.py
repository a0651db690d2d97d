"""The mark's matte, and the picture under it recovered by inverting the blend.

The mark is white ink (α) and a faint black shadow over the picture, so each pixel of a
frame is an affine map of the picture under it: `out = g·bg + h`, with the gain
`g = (1-α)(1-shadow)` and the offset `h = α·white`, the same in every frame the mark sits
still. Many frames of one mark over a changing picture pin (g, h) down (Dekel et al.,
CVPR 2017): when the camera moves, the picture under the mark in frame t is in plain view
in other frames of the same run, displaced by the camera path, so each pixel gets pairs
(what the frame shows, what the picture there was) and a least-squares line through them
is its (g, h), with the residual saying how far to trust it. A still camera gives no such
pairs; there the temporal fill already has the picture itself, from before the mark came.

`recover` inverts the blend, `bg = (out − h) / g`, and mixes it with an inpainter's fill
pixel by pixel, weighting each by its expected error: the inversion amplifies noise by 1/g,
so it wins where the mark is faint (and leaves pixels with no ink as they were) and the
fill wins where the mark is near-opaque, clipped, or the estimate is unreliable. The fill's
own error is measured in each frame where the matte says there is no ink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
from loguru import logger

from executor.engine.frames import Box
from executor.engine.inpaint.motion import CameraPath
from executor.engine.overlay.evidence import RunEvidence
from executor.engine.overlay.median import median_over_frames

FADE_TRIM = 3  # frames at each end of a run left out (the mark may fade in or out there)
MIN_SPREAD = 5.0  # luma levels: below this the background is "still" under the mark
MIN_PAIRS = 8  # frames a pixel needs seen both ways before its (g, h) counts
MAX_FRAMES = 48  # crops of a run whose picture is looked for (evenly spread)
MAX_SOURCES = 96  # other crops tried per crop, nearest in time first
STALE_SOURCES = 12  # ... until this many in a row showed nothing new
FILL_ERROR = 8.0  # an inpainter's fill error (levels) when the frame cannot measure it
NOISE = 1.5  # codec noise of one decoded pixel, in levels
MAX_LEFT_EDGES = 0.5  # share of the overlay's fixed edge energy an inversion may leave
MAX_SWING = 2.0  # the recovered pixels' spread over time, in spreads of the ring's


@dataclass(frozen=True)
class Matte:
    """Per-pixel gain and offset over `region` (frame pixels), in full-range RGB levels."""

    region: Box
    gain: np.ndarray  # HxW float32, 0 < g <= 1
    offset: np.ndarray  # HxW float32, RGB levels added by the ink
    reliable: np.ndarray  # HxW bool: the estimate can be inverted here
    error: np.ndarray  # HxW float32: expected error of the inversion, in levels
    _over: dict[Box, Matte] = field(default_factory=dict, repr=False, compare=False)

    @property
    def alpha(self) -> np.ndarray:
        """The overlay's opacity, roughly: how much of the picture it hides."""
        return np.asarray(1.0 - self.gain, dtype=np.float32)

    @cached_property
    def bare(self) -> np.ndarray:
        """Pixels surely without ink (well inside): where a fill's error can be measured."""
        bare = (self.gain >= 1.0) & (self.error <= 2.0 * NOISE) & self.reliable
        return cv2.erode(bare.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)

    def over(self, region: Box) -> Matte:
        """This matte over another region (a segment's frames all ask for the same one)."""
        cached = self._over.get(region)
        if cached is None:
            cached = self._over[region] = _aligned(self, region)
        return cached


def known_mask(shape: tuple[int, int], box: Box, grow: float = 0.1, pad: int = 2) -> np.ndarray:
    """Pixels of a region well outside the mark's box: the picture's own statistics."""
    height, width = shape
    x1, y1, x2, y2 = box
    dx, dy = round((x2 - x1) * grow) + pad, round((y2 - y1) * grow) + pad
    known = np.ones(shape, dtype=bool)
    known[max(0, y1 - dy) : min(height, y2 + dy), max(0, x1 - dx) : min(width, x2 + dx)] = False
    return known


def estimate_matte(
    run: RunEvidence, camera: CameraPath | None, *, limited_range: bool = True
) -> Matte | None:
    """The mark's matte over the run's region, or None when the frames cannot tell it (a
    still camera, or too few frames)."""
    if camera is None or camera.static:
        return None
    indices, stack = run.select(trim=FADE_TRIM)
    if len(stack) < MIN_PAIRS:
        return None
    height, width = stack.shape[1:]
    known = known_mask((height, width), run.box_in_region)
    if known.all() or not known.any():
        return None
    black, white = (16.0, 235.0) if limited_range else (0.0, 255.0)
    sums = _pair_sums(indices, stack, known, run.region, camera)
    n = sums[0]
    fit = n >= MIN_PAIRS
    safe_n = np.maximum(n, 1.0)
    mean_b, mean_i = sums[1] / safe_n, sums[3] / safe_n
    var_b = np.maximum(sums[2] / safe_n - mean_b**2, 0.0)
    var_i = np.maximum(sums[5] / safe_n - mean_i**2, 0.0)
    cov = sums[4] / safe_n - mean_i * mean_b
    fit &= var_b >= MIN_SPREAD**2
    g = np.clip(cov / np.maximum(var_b, 1e-3), 0.02, 1.0)
    h = np.clip(mean_i - g * mean_b, (1.0 - g) * black, (1.0 - g) * white)
    residual = np.sqrt(np.maximum(var_i - 2 * g * cov + g**2 * var_b, 0.0) + NOISE**2)
    g_error = residual / np.sqrt(safe_n * np.maximum(var_b, 1e-3))
    # A gain that cannot be told from 1 (and no offset) is no ink: the pixel stays as it is,
    # with the error of missing faint ink there.
    bare = (1.0 - g) <= 2.0 * g_error + 0.01
    g = np.where(bare, 1.0, g)
    h = np.where(bare, 0.0, h)
    error = np.where(bare, 2.0 * g_error * np.maximum(white - mean_i, 0.0), residual / g)

    gain = np.where(known, 1.0, np.where(fit, g, 1.0)).astype(np.float32)
    offset = np.where(known | ~fit, 0.0, h)
    low = (1.0 - gain) * black
    # From luma levels to full-range RGB levels (the ink is white: the same in R, G and B).
    rgb_offset = (np.maximum(offset - low, 0.0) * (255.0 / (white - black))).astype(np.float32)
    reliable = known | fit
    error = np.where(known, 0.0, error).astype(np.float32)
    if not fit.any():
        return None
    if not removes_overlay(stack, gain, offset, run.box_in_region):
        logger.debug("frames {}-{}: the matte leaves the overlay: not used", run.first, run.last)
        return None
    return Matte(run.region, gain, rgb_offset, reliable, error)


def removes_overlay(stack: np.ndarray, gain: np.ndarray, offset: np.ndarray, box: Box) -> bool:
    """Whether inverting the blend (luma levels) takes the fixed overlay out of the run's
    own frames, and leaves a picture that moves like the picture around it: the edges that
    stay put over the box must lose most of their energy, and the recovered pixels must
    not swing more than the ring's. A matte fitted to a misjudged camera path (hand-held
    shake, a rolling shutter) invents an edge pattern of its own, or divides by a gain near
    zero, and recovers worse than the fill alone."""
    recovered = (stack - offset[None]) / np.maximum(gain, 0.02)[None]
    x1, y1, x2, y2 = box
    inked = gain < 0.9
    ring = known_mask(gain.shape, box)
    if inked.any() and ring.any():
        swing = float(np.median(recovered.std(axis=0)[inked]))
        if swing > MAX_SWING * max(float(np.median(stack.std(axis=0)[ring])), NOISE):
            return False
    before = _fixed_energy(stack[:, y1:y2, x1:x2])
    after = _fixed_energy(recovered[:, y1:y2, x1:x2])
    return after <= MAX_LEFT_EDGES * before


def _fixed_energy(stack: np.ndarray) -> float:
    gy, gx = np.gradient(stack, axis=(1, 2))
    return float((median_over_frames(gx) ** 2 + median_over_frames(gy) ** 2).mean())


def _pair_sums(
    indices: list[int], stack: np.ndarray, known: np.ndarray, region: Box, camera: CameraPath
) -> np.ndarray:
    """Per pixel of the region: n, Σbg, Σbg², Σout, Σout·bg, Σout² over the frames whose
    picture there was seen clear of the mark in another frame of the run."""
    height, width = known.shape
    sums = np.zeros((6, height, width), dtype=np.float64)
    clear = cv2.erode(known.astype(np.uint8), np.ones((3, 3), np.uint8))
    origin = np.array([region[0], region[1]], dtype=np.float64)
    chosen = np.unique(np.linspace(0, len(indices) - 1, min(MAX_FRAMES, len(indices))).astype(int))
    unknown = ~known
    wanted = np.count_nonzero(unknown)
    for k in chosen:
        t = indices[k]
        picture = np.zeros((height, width), dtype=np.float32)
        found = np.zeros((height, width), dtype=bool)
        order = sorted((j for j in range(len(indices)) if j != k), key=lambda j: abs(j - k))
        stale = 0
        for j in order[:MAX_SOURCES]:
            if stale >= STALE_SOURCES:
                break
            warp = camera.warp(t, indices[j])  # frame t's pixel coordinates -> frame u's
            linear = warp[:, :2]
            # crop coordinates of frame t -> crop coordinates of frame u
            matrix = np.hstack([linear, (linear @ origin + warp[:, 2] - origin)[:, None]])
            seen = cv2.warpAffine(
                clear,
                matrix,
                (width, height),
                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                borderValue=0,
            ).astype(bool)
            fresh = seen & unknown & ~found
            if not fresh.any():
                stale += 1
                continue
            stale = 0
            pixels = cv2.warpAffine(
                stack[j], matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            )
            np.copyto(picture, pixels, where=fresh)
            found |= fresh
            if np.count_nonzero(found) >= wanted:
                break
        # Whole-array sums where `found` (boolean indexing gathers and scatters each term:
        # several times slower); `picture` is 0 elsewhere, the same float32 terms are added.
        out = stack[k]
        for total, term in zip(
            sums, (1.0, picture, picture**2, out, out * picture, out**2), strict=True
        ):
            np.add(total, term, out=total, where=found)
    return sums


def inversion_weight(matte: Matte, observed: np.ndarray, fill_error: float) -> np.ndarray:
    """How much of each pixel to take from the inversion (the rest from the fill): the two
    estimates weighted by their expected errors; none where the pixel is clipped under
    ink or the estimate is unreliable; all of it where there is no ink (the pixel as is)."""
    inked = matte.gain < 1.0
    weight = fill_error**2 / (fill_error**2 + matte.error**2 + 1e-6)
    # The channels' maximum by two elementwise maxima: numpy's max over a last axis of
    # three is several times slower.
    brightest = np.maximum(np.maximum(observed[..., 0], observed[..., 1]), observed[..., 2])
    clipped = (brightest >= 250) & inked
    weight = np.where(matte.reliable & ~clipped, weight, 0.0).astype(np.float32)
    # A little smoothing: no speckle where neighbouring estimates disagree.
    return np.asarray(cv2.GaussianBlur(weight, (0, 0), 0.8), dtype=np.float32)


def fill_error(observed: np.ndarray, filled: np.ndarray, matte: Matte) -> float:
    """The fill's error in this frame, measured where the matte says there is no ink (there
    the picture is known: it is the decoded pixel)."""
    bare = matte.bare
    if np.count_nonzero(bare) < 32:
        return FILL_ERROR
    gap = observed[bare].astype(np.float32) - filled[bare].astype(np.float32)
    return max(NOISE, float(np.sqrt(np.mean(gap**2))))


def recover(observed: np.ndarray, filled: np.ndarray, region: Box, matte: Matte) -> np.ndarray:
    """RGB over `region` (observed: the frame as decoded; filled: an inpainter's fill of the
    same pixels): the blend inverted where that is reliable, the fill elsewhere."""
    local = matte.over(region)
    gain = np.maximum(local.gain, 0.02)
    weight = inversion_weight(local, observed, fill_error(observed, filled, local))
    # The per-pixel planes as three channels: numpy broadcasting over a last axis of three
    # is several times slower than the same arithmetic on whole arrays.
    offset3, gain3, weight3 = (_channels(plane) for plane in (local.offset, gain, weight))
    inverted = (observed.astype(np.float32) - offset3) / gain3
    out = weight3 * inverted + (1.0 - weight3) * filled.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _channels(plane: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.merge([plane, plane, plane]))


def _aligned(matte: Matte, region: Box) -> Matte:
    """The matte over `region`; outside its own region nothing is known (the fill there)."""
    width, height = region[2] - region[0], region[3] - region[1]
    gain = np.ones((height, width), dtype=np.float32)
    offset = np.zeros((height, width), dtype=np.float32)
    error = np.zeros((height, width), dtype=np.float32)
    reliable = np.zeros((height, width), dtype=bool)
    mx1, my1, mx2, my2 = matte.region
    rx1, ry1, rx2, ry2 = region
    x1, y1, x2, y2 = max(mx1, rx1), max(my1, ry1), min(mx2, rx2), min(my2, ry2)
    if x2 > x1 and y2 > y1:
        dst = (slice(y1 - ry1, y2 - ry1), slice(x1 - rx1, x2 - rx1))
        src = (slice(y1 - my1, y2 - my1), slice(x1 - mx1, x2 - mx1))
        gain[dst] = matte.gain[src]
        offset[dst] = matte.offset[src]
        error[dst] = matte.error[src]
        reliable[dst] = matte.reliable[src]
    return Matte(region, gain, offset, reliable, error)


MAX_SHIFT = 6  # pixels the detector's boxes of one mark may disagree by
MIN_MATCH = 0.5  # normalised correlation a reused matte must reach where it is put


def reuse(donor: Matte, donor_run: RunEvidence, run: RunEvidence) -> Matte | None:
    """`donor`'s matte placed where the same mark sits in `run` (the mark keeps one look for
    the whole video), when the run's frames show the mark's edges there; else None.

    A run over a still picture has no pairs of its own, and no clean source where the mark
    never leaves its spot: the matte of the same mark elsewhere in the video still inverts
    it. The boxes say where the mark went up to the detector's jitter; the edges of the
    run's mean picture say exactly where."""
    dx1, dy1, dx2, dy2 = donor_run.box
    rx1, ry1, rx2, ry2 = run.box
    if not (0.8 <= (rx2 - rx1) / max(1, dx2 - dx1) <= 1.25):
        return None
    if not (0.8 <= (ry2 - ry1) / max(1, dy2 - dy1) <= 1.25):
        return None
    # The donor's ink edges, over its box (donor region coordinates).
    bx1, by1, bx2, by2 = donor_run.box_in_region
    alpha = 1.0 - donor.gain[by1:by2, bx1:bx2]
    template = _edges(alpha.astype(np.float32))
    if float(template.std()) < 1e-3:
        return None
    picture = _edges(run.stack(trim=FADE_TRIM).mean(axis=0))
    # Where the donor's box lands in the run's region, give or take MAX_SHIFT.
    guess_x = rx1 - run.region[0]
    guess_y = ry1 - run.region[1]
    x0, y0 = max(0, guess_x - MAX_SHIFT), max(0, guess_y - MAX_SHIFT)
    window = picture[y0 : guess_y + (by2 - by1) + MAX_SHIFT, x0 : guess_x + (bx2 - bx1) + MAX_SHIFT]
    if window.shape[0] < template.shape[0] or window.shape[1] < template.shape[1]:
        return None
    scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
    _, best, _, (mx, my) = cv2.minMaxLoc(scores)
    if best < MIN_MATCH:
        return None
    # Donor region coordinates -> run region coordinates.
    shift_x, shift_y = x0 + mx - bx1, y0 + my - by1
    height, width = run.crops[0].shape
    gain = np.ones((height, width), np.float32)
    offset = np.zeros((height, width), np.float32)
    error = np.zeros((height, width), np.float32)
    reliable = np.zeros((height, width), bool)
    src_h, src_w = donor.gain.shape
    x1, y1 = max(0, shift_x), max(0, shift_y)
    x2, y2 = min(width, shift_x + src_w), min(height, shift_y + src_h)
    if x2 <= x1 or y2 <= y1:
        return None
    dst = (slice(y1, y2), slice(x1, x2))
    src = (slice(y1 - shift_y, y2 - shift_y), slice(x1 - shift_x, x2 - shift_x))
    gain[dst], offset[dst] = donor.gain[src], donor.offset[src]
    error[dst], reliable[dst] = donor.error[src], donor.reliable[src]
    return Matte(run.region, gain, offset, reliable, error)


def _edges(picture: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(cv2.magnitude(gx, gy), dtype=np.float32)
