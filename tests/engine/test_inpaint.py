"""Inpainters in isolation: the plan, the seam-free composite that leaves other pixels
bit-exact, TELEA, LaMa with a tiny scripted model, and the camera path."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from executor.engine.colour import ColourTags
from executor.engine.errors import VideoError
from executor.engine.frames import Frame
from executor.engine.inpaint import Inpainter, InpainterError, MarkPlan, make_inpainter
from executor.engine.inpaint.base import composite
from executor.engine.inpaint.gather import SourceGatherer
from executor.engine.inpaint.motion import MotionEstimator, estimate_path
from executor.engine.inpaint.temporal import TemporalInpainter
from executor.engine.reader import VideoReader
from executor.engine.writer import VideoWriter

BT709 = ColourTags(range=1, matrix=1, primaries=1, transfer=1)


def _frame(rgb: np.ndarray, index: int = 0) -> Frame:
    return Frame.from_rgb(rgb, index=index, pts=index, time_base=Fraction(1, 30), colour=BT709)


def _texture(height: int = 96, width: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.uniform(40, 210, size=(height // 8, width // 8, 3))
    return np.kron(small, np.ones((8, 8, 1))).astype(np.uint8)


def test_plan_groups_runs_and_dilates() -> None:
    boxes = {"0": [10, 10, 30, 20], "1": [10, 10, 30, 20], "2": None, "3": [50, 40, 70, 50]}
    plan = MarkPlan.from_boxes(boxes, width=100, height=60, frames=5, margin=4)
    assert plan.boxes[0] == (6, 6, 34, 24)
    assert plan.boxes[3] == (46, 36, 74, 54)
    assert plan.boxes[4] is None
    assert [(s.start, s.end) for s in plan.segments] == [(0, 1), (3, 3)]


def test_composite_changes_only_the_box() -> None:
    frame = _frame(_texture())
    before = (frame.y.copy(), frame.u.copy(), frame.v.copy())
    box = (41, 23, 87, 51)  # odd edges: the aligned read is wider than the box
    fill = np.full((96, 160, 3), 200, dtype=np.uint8)
    composite(frame, box, fill, (0, 0, 160, 96), feather_px=4)
    changed = frame.y != before[0]
    rows, cols = np.nonzero(changed)
    assert changed.any()
    assert rows.min() >= 23 and rows.max() < 51 and cols.min() >= 41 and cols.max() < 87
    # Chroma outside the 2x2 blocks the box touches is untouched.
    assert np.array_equal(frame.u[:11], before[1][:11])
    assert np.array_equal(frame.v[:, :20], before[2][:, :20])


def test_telea_fills_the_box() -> None:
    rgb = np.full((96, 160, 3), 90, dtype=np.uint8)
    rgb[40:60, 60:100] = 255  # a white "mark"
    frame = _frame(rgb)
    plan = MarkPlan.from_boxes([[60, 40, 100, 60]], width=160, height=96, frames=1, margin=4)
    make_inpainter("telea").fill([frame], plan)
    assert abs(float(frame.rgb()[40:60, 60:100].mean()) - 90) < 4


def test_unknown_inpainter_and_missing_lama_model(tmp_path: Path) -> None:
    with pytest.raises(InpainterError, match="unknown inpainter"):
        make_inpainter("magic")
    with pytest.raises(InpainterError, match="--lama-model"):
        make_inpainter("lama")
    with pytest.raises(InpainterError, match="not found"):
        make_inpainter("lama", lama_model=tmp_path / "nope.pt")


def _scripted_blur_model(path: Path) -> Path:
    """A stand-in for LaMa with the same signature: masked pixels become the mean colour of
    the unmasked ones (per image)."""
    torch = pytest.importorskip("torch")

    class MeanFill(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            keep = 1.0 - mask
            mean = (image * keep).sum(dim=(2, 3), keepdim=True) / keep.sum(
                dim=(2, 3), keepdim=True
            ).clamp(min=1.0)
            return image * keep + mean * mask

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream
        torch.jit.script(MeanFill()).save(str(path))
    return path


def test_lama_with_a_scripted_model(tmp_path: Path) -> None:
    model = _scripted_blur_model(tmp_path / "tiny.pt")
    painter = make_inpainter("lama", lama_model=model, device="cpu")
    frames = []
    for i in range(3):
        rgb = np.full((96, 160, 3), (30, 120, 200), dtype=np.uint8)
        rgb[40:60, 60:100] = 255
        frames.append(_frame(rgb, i))
    plan = MarkPlan.from_boxes([[60, 40, 100, 60]] * 3, width=160, height=96, frames=3, margin=4)
    painter.fill(frames, plan)
    for frame in frames:
        region = frame.rgb()[40:60, 60:100].reshape(-1, 3).mean(axis=0)
        assert np.abs(region - (30, 120, 200)).max() < 6


def test_lama_rejects_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(InpainterError, match="TorchScript"):
        make_inpainter("lama", lama_model=junk, device="cpu")


def test_camera_path_static_and_pan(tmp_path: Path) -> None:
    canvas = np.kron(
        np.random.default_rng(3).uniform(0, 255, size=(40, 60, 3)), np.ones((6, 6, 1))
    ).astype(np.uint8)

    def write(name: str, step: int) -> Path:
        path = tmp_path / name
        with VideoWriter(path, width=160, height=96, frame_rate=Fraction(30), crf=12) as writer:
            for i in range(12):
                writer.write_rgb(
                    np.ascontiguousarray(canvas[20:116, 10 + i * step : 170 + i * step]), pts=i
                )
        return path

    plan = MarkPlan(width=160, height=96, boxes=[None] * 12)
    still = estimate_path(write("still.mp4", 0), plan)
    assert still.static
    pan = estimate_path(write("pan.mp4", 3), plan)
    assert not pan.static
    # Content moves left by 3 px per frame: a point of frame 0 is 33 px further left at 11.
    dx = pan.warp(0, 11)[0, 2]
    assert abs(dx + 33) < 1.5


def test_camera_path_on_a_worker_thread_is_the_same_path(tmp_path: Path) -> None:
    canvas = np.kron(
        np.random.default_rng(4).uniform(0, 255, size=(40, 60)), np.ones((6, 6))
    ).astype(np.uint8)
    lumas = [np.ascontiguousarray(canvas[20:116, 10 + 2 * i : 170 + 2 * i]) for i in range(40)]
    inline, background = MotionEstimator(), MotionEstimator(background=True)
    for luma in lumas:
        inline.add(luma, (10, 10, 40, 30))
        background.add(luma, (10, 10, 40, 30))
    a, b = inline.finish(), background.finish()
    assert a.static == b.static is False
    assert all(np.array_equal(x, y) for x, y in zip(a.matrices, b.matrices, strict=True))


def test_a_camera_path_needs_frames() -> None:
    with pytest.raises(ValueError, match="no frames"):
        MotionEstimator(background=True).finish()


def test_the_gatherer_keeps_each_requested_crop_once_its_frame_has_gone_by(
    clip: Callable[..., Path],
) -> None:
    gatherer = SourceGatherer(clip(frames=24), {3: (10, 10, 50, 30), 20: (0, 0, 33, 17)})
    try:
        gatherer.wait_for(20)
        assert sorted(gatherer.crops) == [3, 20]
        (box, pixels) = gatherer.crops[20]
        assert box == (0, 0, 34, 18)  # grown to even coordinates
        assert pixels.shape == (18, 34, 3) and pixels.dtype == np.float32
    finally:
        gatherer.close()


def test_the_gatherer_hands_its_error_to_the_repaint_that_waits(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    gatherer = SourceGatherer(broken, {0: (0, 0, 8, 8)})
    try:
        with pytest.raises(VideoError):
            gatherer.wait_for(0)
    finally:
        gatherer.close()


def _still_clip(path: Path) -> Path:
    """A still, textured shot: any frame shows what is under the "mark" in any other one."""
    picture = np.kron(
        np.random.default_rng(5).uniform(40, 200, size=(16, 27, 3)), np.ones((6, 6, 1))
    ).astype(np.uint8)
    with VideoWriter(path, width=160, height=96, frame_rate=Fraction(24), crf=8) as writer:
        for i in range(24):
            writer.write_rgb(np.ascontiguousarray(picture[:96, :160]), pts=i)
    return path


def _repaint(painter: Inpainter, path: Path, plan: MarkPlan) -> tuple[list[Frame], list[Frame]]:
    """What the pipeline's last pass does: every frame seen as decoded, then filled.
    Returns (repainted frames, the frames as decoded)."""
    painter.prepare(path, plan)
    try:
        with VideoReader(path) as reader:
            frames = list(reader)
        with VideoReader(path) as reader:
            originals = list(reader)
        for frame in frames:
            painter.see(frame)
        painter.seen_all()
        painter.fill(frames, plan)
    finally:
        painter.close()
    return frames, originals


def test_a_mark_at_the_frame_edge_is_filled_from_other_times_under_a_still_camera(
    tmp_path: Path,
) -> None:
    path = _still_clip(tmp_path / "still.mp4")
    edge, inside = (100, 70, 160, 96), (10, 10, 70, 36)  # the first touches two edges
    plan = MarkPlan(width=160, height=96, boxes=[edge] * 12 + [inside] * 12, margin=4)
    frames, originals = _repaint(make_inpainter("temporal"), path, plan)
    x1, y1, x2, y2 = edge
    error = np.abs(frames[5].y[y1:y2, x1:x2].astype(int) - originals[5].y[y1:y2, x1:x2]).mean()
    assert error < 1.0  # the same pixels from frames 12-23, not a spatial guess


def test_sources_from_the_last_pass_or_a_decode_of_their_own_give_the_same_fill(
    tmp_path: Path,
) -> None:
    path = _still_clip(tmp_path / "still.mp4")
    plan = MarkPlan(
        width=160, height=96, boxes=[(10, 10, 70, 36)] * 12 + [(90, 50, 150, 80)] * 12, margin=4
    )
    shared = TemporalInpainter()
    own = TemporalInpainter(lookahead_bytes=0)  # no frame may be held: it decodes its own
    shared_frames, _ = _repaint(shared, path, plan)
    own_frames, _ = _repaint(own, path, plan)
    assert shared.lookahead() == 14 and own.lookahead() == 0  # frame 0 waits for 12..14
    for a, b in zip(shared_frames, own_frames, strict=True):
        assert np.array_equal(a.y, b.y) and np.array_equal(a.u, b.u)
