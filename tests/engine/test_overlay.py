"""The mark as an overlay: confirmation before touching a pixel, the matte estimate and the
blend's inversion, on frames built here with a known overlay (α and shadow known exactly)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from executor.engine.frames import Box
from executor.engine.inpaint.motion import CameraPath
from executor.engine.overlay import (
    EvidenceCollector,
    confirm,
    estimate_matte,
    ink_extent,
    ink_mask,
    reach,
    recover,
    reuse,
)
from executor.engine.overlay.median import half_level_median, median_over_frames

WIDTH, HEIGHT, FRAMES = 240, 160, 60
MARK_AT: Box = (80, 60, 176, 96)  # where the overlay sits (x1, y1, x2, y2)
PAN = np.array([2.3, 0.9])  # pixels per frame


def texture(seed: int, size: tuple[int, int] = (700, 500)) -> np.ndarray:
    """A smooth grey picture with detail at a few scales, levels ~20..235 (float32)."""
    rng = np.random.default_rng(seed)
    width, height = size
    picture = np.zeros((height, width), np.float32)
    for sigma, weight in ((24.0, 70.0), (6.0, 35.0), (1.5, 12.0)):
        noise = rng.normal(0, 1, (height, width)).astype(np.float32)
        layer = cv2.GaussianBlur(noise, (0, 0), sigma)
        picture += weight * layer / max(1e-6, float(layer.std()))
    return np.clip(128 + picture, 20, 235)


def write(picture: np.ndarray, text: str, at: tuple[int, int], scale: float, value: float) -> None:
    """Draw white text into a float picture (OpenCV draws text on 8-bit images only)."""
    mask = np.zeros(picture.shape, np.uint8)
    cv2.putText(mask, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 2, cv2.LINE_AA)
    picture[:] = picture * (1 - mask / 255.0) + value * (mask / 255.0)


def overlay(opacity: float = 0.6, shadow: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """(ink α, shadow α) over MARK_AT: a logo ring and a word, slightly soft."""
    x1, y1, x2, y2 = MARK_AT
    ink = np.zeros((y2 - y1, x2 - x1), np.float32)
    cv2.circle(ink, (14, 18), 10, 1.0, 3)
    write(ink, "Sora", (30, 28), 0.8, 1.0)
    ink = cv2.GaussianBlur(ink, (0, 0), 0.6) * opacity
    shade = np.roll(cv2.GaussianBlur(ink, (0, 0), 1.2), (1, 1), axis=(0, 1)) * shadow / opacity
    return ink, shade


def composite(
    picture: np.ndarray, ink: np.ndarray, shade: np.ndarray, at: Box = MARK_AT
) -> np.ndarray:
    """RGB levels of the picture (grey, 0..255) under the overlay: bg·(1−s)(1−α) + 255·α."""
    out = picture.copy()
    x1, y1, x2, y2 = at
    region = out[y1:y2, x1:x2]
    out[y1:y2, x1:x2] = region * (1 - shade) * (1 - ink) + 255.0 * ink
    return out


def luma(rgb_grey: np.ndarray) -> np.ndarray:
    """Limited-range luma of a grey RGB picture, as a decoder hands it over."""
    return np.clip(np.rint(16 + rgb_grey * 219 / 255), 0, 255).astype(np.uint8)


def panning(seed: int) -> tuple[list[np.ndarray], CameraPath]:
    """Frames of a camera panning over a picture, and that camera's path."""
    big = texture(seed)
    frames, matrices = [], []
    for t in range(FRAMES):
        sx, sy = 20 + PAN * t
        frames.append(big[int(sy) : int(sy) + HEIGHT, int(sx) : int(sx) + WIDTH].copy())
        # reference (the big picture) -> frame t: x - offset
        matrices.append(np.array([[1, 0, -int(sx)], [0, 1, -int(sy)], [0, 0, 1]], np.float64))
    return frames, CameraPath(matrices, static=False)


def collect(frames: list[np.ndarray], marked: range, at: Box = MARK_AT) -> EvidenceCollector:
    """Feed the collector as the scanner would: the mark's box in the `marked` frames."""
    evidence = EvidenceCollector(WIDTH, HEIGHT)
    for index, picture in enumerate(frames):
        evidence.add(index, luma(picture), at if index in marked else None)
    return evidence


def test_a_fixed_overlay_over_a_moving_picture_is_confirmed() -> None:
    ink, shade = overlay()
    pictures, _ = panning(1)
    frames = [composite(p, ink, shade) for p in pictures]
    verdict = confirm(collect(frames, range(FRAMES)).runs[0], score=0.3)
    assert verdict.accepted, verdict


def test_a_fixed_overlay_the_detector_barely_believes_is_refused() -> None:
    """Subtitles and UI labels are fixed overlays too: a weak detection of one is other
    writing, not the mark."""
    ink, shade = overlay()
    pictures, _ = panning(1)
    frames = [composite(p, ink, shade) for p in pictures]
    verdict = confirm(collect(frames, range(FRAMES)).runs[0], score=0.25)
    assert not verdict.accepted, verdict


def test_white_writing_that_moves_with_the_picture_is_refused() -> None:
    """Scene text under a panning camera: its edges move, so nothing is fixed in the box."""
    big = texture(2)
    write(big, "Sora", (120, 110), 0.9, 245.0)
    frames = [big[t : t + HEIGHT, 20 + 2 * t : 20 + 2 * t + WIDTH].copy() for t in range(40)]
    evidence = EvidenceCollector(WIDTH, HEIGHT)
    for index, picture in enumerate(frames):
        evidence.add(index, luma(picture), MARK_AT)  # a detector that keeps firing there
    verdict = confirm(evidence.runs[0], score=0.9)
    assert not verdict.accepted, verdict


def test_writing_that_belongs_to_a_still_picture_is_refused() -> None:
    """The same white text is there before and after the frames the detector flagged."""
    still = texture(3)[:HEIGHT, :WIDTH].copy()
    write(still, "Sora", (90, 85), 0.8, 240.0)
    rng = np.random.default_rng(0)
    frames = [still + rng.normal(0, 0.8, still.shape).astype(np.float32) for _ in range(FRAMES)]
    verdict = confirm(collect(frames, range(20, 45)).runs[0], score=0.9)
    assert not verdict.accepted, verdict


def test_a_mark_that_comes_and_goes_over_a_still_picture_is_confirmed() -> None:
    ink, shade = overlay(opacity=0.45)
    still = texture(4)[:HEIGHT, :WIDTH].copy()
    frames = [composite(still, ink, shade) if 20 <= i < 45 else still for i in range(FRAMES)]
    verdict = confirm(collect(frames, range(20, 45)).runs[0], score=0.3)
    assert verdict.accepted, verdict


def test_a_short_run_is_judged_by_the_detector_confidence() -> None:
    ink, shade = overlay()
    pictures, _ = panning(5)
    frames = [composite(p, ink, shade) for p in pictures[:5]]
    run = collect(frames, range(5)).runs[0]
    assert confirm(run, score=0.8).accepted
    assert not confirm(run, score=0.3).accepted


@pytest.mark.parametrize("opacity", [0.4, 0.75])
def test_the_matte_is_estimated_from_frames_over_a_moving_picture(opacity: float) -> None:
    ink, shade = overlay(opacity=opacity)
    pictures, camera = panning(6)
    frames = [composite(p, ink, shade) for p in pictures]
    matte = estimate_matte(collect(frames, range(FRAMES)).runs[0], camera)
    assert matte is not None
    x1, y1, x2, y2 = MARK_AT
    rx, ry = matte.region[0], matte.region[1]
    estimated = matte.gain[y1 - ry : y2 - ry, x1 - rx : x2 - rx]
    true_gain = (1 - ink) * (1 - shade)
    inked = (1 - true_gain) > 0.15
    assert np.median(np.abs(estimated - true_gain)[inked]) < 0.04
    bare = (1 - true_gain) < 0.005
    assert np.mean(estimated[bare] == 1.0) > 0.95  # no ink: the pixel is left as it is


def test_inverting_the_blend_recovers_the_picture_under_a_faint_mark() -> None:
    ink, shade = overlay(opacity=0.5)
    pictures, camera = panning(7)
    frames = [composite(p, ink, shade) for p in pictures]
    matte = estimate_matte(collect(frames, range(FRAMES)).runs[0], camera)
    assert matte is not None
    x1, y1, x2, y2 = MARK_AT
    t = FRAMES // 2
    observed = np.repeat(np.rint(frames[t][y1:y2, x1:x2])[..., None], 3, axis=2).astype(np.uint8)
    truth = pictures[t][y1:y2, x1:x2]
    poor_fill = np.full_like(observed, 128)  # an inpainter's fill that knows nothing
    out = recover(observed, poor_fill, MARK_AT, matte)[..., 0].astype(np.float32)
    inked = ((1 - (1 - ink) * (1 - shade)) > 0.05) & (ink < 0.45)
    error_before = np.sqrt(np.mean((observed[..., 0] - truth)[inked] ** 2))
    error_after = np.sqrt(np.mean((out - truth)[inked] ** 2))
    assert error_after < 4.0 < error_before / 4


def test_without_a_known_matte_the_fill_is_kept() -> None:
    """A still camera gives no pairs: no matte, and recover() over an unknown region keeps
    the inpainter's fill."""
    ink, shade = overlay()
    still = texture(8)[:HEIGHT, :WIDTH].copy()
    frames = [composite(still, ink, shade) for _ in range(FRAMES)]
    static = CameraPath([np.eye(3)] * FRAMES, static=True)
    assert estimate_matte(collect(frames, range(FRAMES)).runs[0], static) is None


def test_the_matte_of_the_mark_elsewhere_inverts_it_over_a_still_picture() -> None:
    """Over a still picture the mark's own frames give no pairs, and no clean source where it
    never leaves its spot: the matte from a segment over a moving picture is put there."""
    ink, shade = overlay(opacity=0.5)
    pictures, camera = panning(9)
    moving = collect([composite(p, ink, shade) for p in pictures], range(FRAMES)).runs[0]
    donor = estimate_matte(moving, camera)
    assert donor is not None
    elsewhere: Box = (40, 20, 136, 56)
    still = texture(10)[:HEIGHT, :WIDTH].copy()
    frames = [composite(still, ink, shade, at=elsewhere) for _ in range(FRAMES)]
    # the detector's box is off by a few pixels: the edges say where the mark really is
    jittered: Box = (43, 18, 139, 54)
    run = collect(frames, range(FRAMES), at=jittered).runs[0]
    matte = reuse(donor, moving, run)
    assert matte is not None
    x1, y1, x2, y2 = elsewhere
    observed = np.repeat(np.rint(frames[0][y1:y2, x1:x2])[..., None], 3, axis=2).astype(np.uint8)
    truth = still[y1:y2, x1:x2]
    out = recover(observed, np.full_like(observed, 128), elsewhere, matte)[..., 0]
    inked = ((1 - (1 - ink) * (1 - shade)) > 0.05) & (ink < 0.45)
    assert np.sqrt(np.mean((out.astype(np.float32) - truth)[inked] ** 2)) < 5.0


def test_a_matte_is_not_put_where_the_mark_is_not() -> None:
    ink, shade = overlay(opacity=0.5)
    pictures, camera = panning(11)
    moving = collect([composite(p, ink, shade) for p in pictures], range(FRAMES)).runs[0]
    donor = estimate_matte(moving, camera)
    assert donor is not None
    still = texture(12)[:HEIGHT, :WIDTH].copy()  # no mark at all in these frames
    run = collect([still] * FRAMES, range(FRAMES), at=(40, 20, 136, 56)).runs[0]
    assert reuse(donor, moving, run) is None


def short_of_the_ink(ink: np.ndarray) -> Box:
    """The mark's box with its last letter cut off (the detector fell short of the ink)."""
    _, xs = np.nonzero(ink > 0.05)
    return (MARK_AT[0], MARK_AT[1], MARK_AT[0] + int(xs.max()) + 1 - 12, MARK_AT[3])


def test_a_box_that_cuts_through_the_ink_is_grown_to_it_over_a_moving_picture() -> None:
    ink, shade = overlay()
    pictures, _ = panning(15)
    frames = [composite(p, ink, shade) for p in pictures]
    run = collect(frames, range(FRAMES), at=short_of_the_ink(ink)).runs[0]
    x1, y1, x2, y2 = ink_extent(run)
    ys, xs = np.nonzero(ink > 0.05)
    assert x1 <= MARK_AT[0] + xs.min() and x2 >= MARK_AT[0] + xs.max() + 1
    assert y1 <= MARK_AT[1] + ys.min() and y2 >= MARK_AT[1] + ys.max() + 1


def test_a_box_that_cuts_through_the_ink_is_grown_over_a_still_picture_with_frames_without_it() -> (
    None
):
    ink, shade = overlay(opacity=0.45)
    still = texture(16)[:HEIGHT, :WIDTH].copy()
    frames = [composite(still, ink, shade) if 20 <= i < 45 else still for i in range(FRAMES)]
    run = collect(frames, range(20, 45), at=short_of_the_ink(ink)).runs[0]
    x1, _, x2, _ = ink_extent(run)
    _, xs = np.nonzero(ink > 0.05)
    assert x1 <= MARK_AT[0] + xs.min() and x2 >= MARK_AT[0] + xs.max() + 1


def test_the_box_is_not_grown_into_the_picture() -> None:
    """Scene edges near the box move with the picture: the box stays the mark's own."""
    ink, shade = overlay()
    pictures, _ = panning(17)
    frames = [composite(p, ink, shade) for p in pictures]
    run = collect(frames, range(FRAMES)).runs[0]
    x1, y1, x2, y2 = ink_extent(run)
    assert (x1, y1) >= (MARK_AT[0] - 3, MARK_AT[1] - 3)
    assert (x2, y2) <= (MARK_AT[2] + 3, MARK_AT[3] + 3)


def test_the_ink_mask_covers_the_ink_and_leaves_the_gaps_between_the_letters() -> None:
    """Pixels of the box between the strokes stay as decoded: the fill has them as picture."""
    ink, shade = overlay()
    pictures, _ = panning(18)
    run = collect([composite(p, ink, shade) for p in pictures], range(FRAMES)).runs[0]
    mask = ink_mask(run)
    assert mask is not None
    x1, y1, x2, y2 = run.box_in_region
    over_box = mask[y1:y2, x1:x2]
    near = cv2.dilate(over_box.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    inked = ink > 0.05
    assert near[inked].mean() >= 0.99  # within the pipeline's margin of every inked pixel
    assert over_box.mean() <= 0.7  # and far from the whole box


def test_no_ink_mask_over_a_still_picture_with_no_frame_without_the_mark() -> None:
    ink, shade = overlay()
    still = composite(texture(19)[:HEIGHT, :WIDTH].copy(), ink, shade)
    run = collect([still] * FRAMES, range(FRAMES)).runs[0]
    assert ink_mask(run) is None


def test_a_fixed_line_through_the_box_does_not_grow_it_past_a_quarter() -> None:
    """Edges that stay put are not all the mark's: a burned-in line of the picture (a
    ticker's rule, a drifting photo's horizon) crossing the box is followed a quarter of
    the box's size at most; following it tripled the repaint on real photos."""
    ink, shade = overlay()
    pictures, _ = panning(20)
    for picture in pictures:
        cv2.line(picture, (MARK_AT[0] - 60, 78), (MARK_AT[2] + 60, 78), 240.0, 2)
    run = collect([composite(p, ink, shade) for p in pictures], range(FRAMES)).runs[0]
    x1, _, x2, _ = ink_extent(run)
    width = MARK_AT[2] - MARK_AT[0]
    assert x1 >= MARK_AT[0] - width // 4 - 1 and x2 <= MARK_AT[2] + width // 4 + 1


def test_a_matte_fitted_to_a_misjudged_camera_path_is_not_used() -> None:
    """Pairs taken along the wrong path invent an edge pattern of their own: inverting it
    would leave the overlay (and add more), so the fill alone is kept."""
    ink, shade = overlay()
    pictures, camera = panning(21)
    run = collect([composite(p, ink, shade) for p in pictures], range(FRAMES)).runs[0]
    assert estimate_matte(run, camera) is not None
    # the camera said to go the other way, twice as fast
    back = np.array([[1, 0, 2 * PAN[0]], [0, 1, 2 * PAN[1]], [0, 0, 1]])
    wrong = [m @ np.linalg.matrix_power(back, t) for t, m in enumerate(camera.matrices)]
    assert estimate_matte(run, CameraPath(wrong, static=False)) is None


def test_a_caption_through_a_corner_of_the_box_is_not_taken_for_the_ink() -> None:
    """A fixed caption (a fixed overlay too, while it shows) running into the box is the
    picture's: its letters inside the box stay as decoded."""
    ink, shade = overlay()
    pictures, _ = panning(22)
    caption = np.zeros((HEIGHT, WIDTH), np.float32)
    write(caption, "BREAKING NEWS", (MARK_AT[0] + 32, MARK_AT[1] + 5), 0.4, 1.0)
    frames = [composite(p, ink, shade) * (1 - caption) + 235.0 * caption for p in pictures]
    run = collect(frames, range(FRAMES)).runs[0]
    mask = ink_mask(run)
    assert mask is not None
    rx, ry = run.region[0], run.region[1]
    x1, y1, x2, y2 = MARK_AT
    in_box = caption[y1:y2, x1:x2] > 0.3
    assert in_box.sum() >= 20, "the caption should reach into the box"
    taken = mask[y1 - ry : y2 - ry, x1 - rx : x2 - rx] & in_box
    assert taken.sum() <= 0.1 * in_box.sum()


def fading_in(pictures: list[np.ndarray], comes: int, steps: int) -> list[np.ndarray]:
    """The mark over `pictures` from frame `comes` on, reaching full strength over `steps`
    frames."""
    ink, shade = overlay()
    out = []
    for index, picture in enumerate(pictures):
        strength = min(1.0, (index - comes + 1) / steps)
        out.append(
            picture if index < comes else composite(picture, ink * strength, shade * strength)
        )
    return out


def test_the_frames_a_detector_missed_beside_a_run_are_given_back_to_it() -> None:
    """The mark fades in from frame 10; the detections start at frame 18 and end at frame
    45, where the mark goes on to the last frame."""
    pictures, _ = panning(11)
    frames = fading_in(pictures, comes=10, steps=4)
    run = collect(frames, range(18, 46)).runs[0]
    first, last = reach(run, 18, 45, taken=lambda index: False)
    assert 10 <= first <= 11
    assert last == FRAMES - 1


def test_no_frame_without_the_mark_is_given_to_a_run() -> None:
    pictures, _ = panning(12)
    frames = fading_in(pictures[:40], comes=20, steps=1) + pictures[40:]
    run = collect(frames, range(20, 40)).runs[0]
    assert reach(run, 20, 39, taken=lambda index: False) == (20, 39)


def test_frames_another_segment_holds_are_not_given_to_a_run() -> None:
    pictures, _ = panning(13)
    frames = fading_in(pictures, comes=0, steps=1)
    run = collect(frames, range(20, 40)).runs[0]
    first, _ = reach(run, 20, 39, taken=lambda index: index <= 15)
    assert first == 16


def test_no_frame_is_given_back_over_a_still_picture() -> None:
    """A still picture's edges stay put with the mark's: its frames without the mark match
    the run's fixed edges too (most of them, under a faint mark), and cannot be told from
    frames with it."""
    still = texture(14)[:HEIGHT, :WIDTH].copy()
    rng = np.random.default_rng(14)
    pictures = [still + rng.normal(0, 0.8, still.shape).astype(np.float32) for _ in range(FRAMES)]
    ink, shade = overlay(opacity=0.25)
    frames = [composite(p, ink, shade) if 20 <= i < 40 else p for i, p in enumerate(pictures)]
    run = collect(frames, range(20, 40)).runs[0]
    assert reach(run, 20, 39, taken=lambda index: False) == (20, 39)


@pytest.mark.parametrize("count", [1, 2, 3, 47, 48])
def test_the_median_over_frames_is_numpys_bit_for_bit(count: int) -> None:
    rng = np.random.default_rng(count)
    stack = rng.normal(0.0, 40.0, (count, 31, 45)).astype(np.float32)
    stack[:, :4] = np.round(stack[:, :4]) / 2  # gradients of integer levels: many ties

    fast = median_over_frames(stack)

    exact = np.median(stack, axis=0)
    assert fast.dtype == exact.dtype
    assert np.array_equal(fast, exact)


@pytest.mark.parametrize("count", [1, 2, 3, 48])
def test_the_median_of_gradients_of_whole_levels_is_numpys_bit_for_bit(count: int) -> None:
    rng = np.random.default_rng(count)
    levels = rng.integers(0, 256, (count, 33, 47)).astype(np.float32)
    levels[:, :, :6] = 255.0  # flat runs: many equal gradients
    gy, gx = np.gradient(levels, axis=(1, 2))

    for gradient in (gx, gy):
        fast = half_level_median(gradient)

        exact = np.median(gradient, axis=0)
        assert fast.dtype == exact.dtype
        assert np.array_equal(fast, exact)
