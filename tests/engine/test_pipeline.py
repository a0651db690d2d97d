"""remove_watermark() end to end on small synthetic clips with known clean versions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from executor.engine.cancel import Cancelled
from executor.engine.inpaint import MarkPlan, margin_for
from executor.engine.pipeline import remove_watermark
from executor.engine.reader import VideoReader
from executor.engine.roundtrip import copy_video
from executor.engine.writer import VideoWriter
from tools.synth.mark import make_mark

WIDTH, HEIGHT, FRAMES = 320, 180, 60
SPOTS = [(30, 30), (180, 110), (200, 20)]  # one mark position per 20 frames


@dataclass
class Clip:
    marked: Path
    clean: Path
    boxes: list[list[int] | None]

    def plan(self) -> MarkPlan:
        margin = margin_for(WIDTH, HEIGHT)
        return MarkPlan.from_boxes(
            self.boxes, width=WIDTH, height=HEIGHT, frames=FRAMES, margin=margin
        )


def make_clip(
    folder: Path, *, pan: float = 0.0, grain: float = 2.0, mark: bool = True, seed: int = 0
) -> Clip:
    """A textured scene seen through a camera panning `pan` px/frame, with the mark jumping
    between SPOTS, written twice (marked and clean) with the same encode."""
    rng = np.random.default_rng(seed)
    canvas = cv2.resize(
        rng.uniform(20, 235, size=(HEIGHT // 6, WIDTH // 4, 3)).astype(np.float32),
        (WIDTH * 2, HEIGHT * 2),
        interpolation=cv2.INTER_CUBIC,
    )
    sprite = make_mark(rng, WIDTH)
    mark_w, mark_h = sprite.size
    noise = rng.normal(0.0, grain, size=(FRAMES, HEIGHT, WIDTH, 1)).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    clip = Clip(folder / "marked.mp4", folder / "clean.mp4", [])
    with (
        VideoWriter(
            clip.marked, width=WIDTH, height=HEIGHT, frame_rate=Fraction(30), preset="veryfast"
        ) as marked,
        VideoWriter(
            clip.clean, width=WIDTH, height=HEIGHT, frame_rate=Fraction(30), preset="veryfast"
        ) as clean,
    ):
        for i in range(FRAMES):
            shift = np.float32([[1, 0, 40 + pan * i], [0, 1, 40 + 0.3 * pan * i]])
            view = cv2.warpAffine(
                canvas, shift, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            )
            rgb = np.clip(view + noise[i], 0, 255).astype(np.uint8)
            clean.write_rgb(rgb, pts=i)
            if mark:
                x, y = SPOTS[i * len(SPOTS) // FRAMES]
                sprite.composite(rgb, x, y)
                clip.boxes.append([x, y, x + mark_w, y + mark_h])
            else:
                clip.boxes.append(None)
            marked.write_rgb(rgb, pts=i)
    return clip


def planes(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [frame.y.astype(np.float64) for frame in reader]


def psnr(errors: list[float], counts: list[int]) -> float:
    mse = sum(errors) / max(1, sum(counts))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def region_psnr(reference: Path, candidate: Path, plan: MarkPlan, *, inside: bool) -> float:
    errors, counts = [], []
    for index, (a, b) in enumerate(zip(planes(reference), planes(candidate), strict=True)):
        mask = np.zeros(a.shape, dtype=bool)
        box = plan.box(index)
        if box is not None:
            mask[box[1] : box[3], box[0] : box[2]] = True
        if not inside:
            mask = ~mask
        errors.append(float(np.square(a - b)[mask].sum()))
        counts.append(int(mask.sum()))
    return psnr(errors, counts)


def region_flicker(path: Path, plan: MarkPlan) -> float:
    """Mean over segments of the per-pixel temporal std of luma inside the segment's box."""
    frames = planes(path)
    stds = []
    for segment in plan.segments:
        x1, y1, x2, y2 = segment.box
        stack = np.stack([f[y1:y2, x1:x2] for f in frames[segment.start : segment.end + 1]])
        stds.append(float(stack.std(axis=0).mean()))
    return float(np.mean(stds))


@pytest.fixture(scope="module")
def static(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("static"))


@pytest.fixture(scope="module")
def static_runs(static: Clip, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("static_out")
    runs = {}
    for name in ("temporal", "telea"):
        runs[name] = out / f"{name}.mp4"
        remove_watermark(
            static.marked, runs[name], inpainter=name, boxes=static.boxes, preset="veryfast"
        )
    runs["copy"] = out / "copy.mp4"
    copy_video(static.marked, runs["copy"], preset="veryfast", measure=False)
    return runs


def test_temporal_beats_telea_inside_the_mark(static: Clip, static_runs: dict[str, Path]) -> None:
    plan = static.plan()
    temporal = region_psnr(static.clean, static_runs["temporal"], plan, inside=True)
    telea = region_psnr(static.clean, static_runs["telea"], plan, inside=True)
    nothing = region_psnr(static.clean, static.marked, plan, inside=True)
    assert temporal > telea + 3, (temporal, telea)
    assert temporal > nothing + 5, (temporal, nothing)


def test_pixels_outside_the_boxes_are_only_re_encoded(
    static: Clip, static_runs: dict[str, Path]
) -> None:
    plan = static.plan()
    ceiling = region_psnr(static.marked, static_runs["copy"], plan, inside=False)
    for name in ("temporal", "telea"):
        outside = region_psnr(static.marked, static_runs[name], plan, inside=False)
        assert outside >= ceiling - 1, (name, outside, ceiling)


def test_no_flicker_on_a_static_scene(static: Clip, static_runs: dict[str, Path]) -> None:
    plan = static.plan()
    clean = region_flicker(static.clean, plan)
    temporal = region_flicker(static_runs["temporal"], plan)
    assert temporal <= clean * 1.1 + 0.3, (temporal, clean)


def test_a_panning_camera(tmp_path: Path) -> None:
    # Content drifts right and down, so every spot has clean views of its area in the picture.
    clip = make_clip(tmp_path / "pan", pan=-1.7, seed=1)
    plan = clip.plan()
    temporal, telea = tmp_path / "temporal.mp4", tmp_path / "telea.mp4"
    remove_watermark(clip.marked, temporal, boxes=clip.boxes, preset="veryfast")
    remove_watermark(clip.marked, telea, inpainter="telea", boxes=clip.boxes, preset="veryfast")
    ours = region_psnr(clip.clean, temporal, plan, inside=True)
    nothing = region_psnr(clip.clean, clip.marked, plan, inside=True)
    spatial = region_psnr(clip.clean, telea, plan, inside=True)
    assert ours > nothing + 5 and ours > spatial + 2, (ours, nothing, spatial)


def test_a_clip_without_a_mark_is_a_plain_re_encode(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clean", mark=False)
    out, copy = tmp_path / "out.mp4", tmp_path / "copy.mp4"
    report = remove_watermark(clip.marked, out, boxes=clip.boxes, preset="veryfast")
    copy_video(clip.marked, copy, preset="veryfast", measure=False)
    assert report.segments == [] and report.frames == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(planes(out), planes(copy), strict=True))


def test_progress_rises_to_100_and_the_report(static: Clip, tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    report = remove_watermark(
        static.marked,
        tmp_path / "out.mp4",
        boxes=static.boxes,
        preset="veryfast",
        progress=lambda percent, stage: seen.append((percent, stage)),
    )
    percents = [p for p, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert {"inpaint", "encode"} <= {stage for _, stage in seen}
    assert len(seen) >= 5
    assert report.frames == FRAMES and report.inpainter == "temporal" and not report.detected
    assert [(s.start, s.end) for s in report.segments] == [(0, 19), (20, 39), (40, 59)]
    assert set(report.seconds) == {"detect", "inpaint", "encode"}


@pytest.mark.parametrize("after_calls", [1, 6])
def test_cancel_stops_and_leaves_no_file(static: Clip, tmp_path: Path, after_calls: int) -> None:
    calls = 0

    def should_cancel() -> bool:
        nonlocal calls
        calls += 1
        return calls >= after_calls

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(Cancelled):
        remove_watermark(
            static.marked, out_dir / "out.mp4", boxes=static.boxes, should_cancel=should_cancel
        )
    assert list(out_dir.iterdir()) == []


def test_audio_rotation_and_timing_are_kept(clip: Callable[..., Path], tmp_path: Path) -> None:
    source = clip("in.mp4", width=160, height=96, frames=24, audio=True, rotation=90)
    out = tmp_path / "out.mp4"
    boxes = [[40, 30, 90, 50]] * 12 + [[100, 60, 150, 80]] * 12
    remove_watermark(source, out, boxes=boxes, preset="veryfast")
    with av.open(str(source)) as a, av.open(str(out)) as b:
        assert len(b.streams.audio) == 1
        va, vb = a.streams.video[0], b.streams.video[0]
        times_a = [f.pts * va.time_base for f in a.decode(va)]
        times_b = [f.pts * vb.time_base for f in b.decode(vb)]
    assert times_a == times_b
    with VideoReader(out) as reader:
        assert reader.info.rotation == 90


def test_bad_input_leaves_no_output(tmp_path: Path) -> None:
    from executor.engine.errors import VideoError

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError):
        remove_watermark(junk, tmp_path / "out.mp4", boxes=[])
    assert not (tmp_path / "out.mp4").exists()


def test_boxes_given_past_the_end_of_the_video_are_ignored(tmp_path: Path) -> None:
    # The caller's boxes run 20 frames past the clip, the mark "moving" after its end: the
    # frames before pick sources there that never come, and fill from the earlier ones.
    clip = make_clip(tmp_path / "static", seed=2)
    boxes = clip.boxes + [[250, 130, 300, 160]] * 20
    out = tmp_path / "out.mp4"
    report = remove_watermark(clip.marked, out, boxes=boxes, preset="veryfast")
    assert report.frames == FRAMES
    plan = clip.plan()
    ours = region_psnr(clip.clean, out, plan, inside=True)
    nothing = region_psnr(clip.clean, clip.marked, plan, inside=True)
    assert ours > nothing + 5, (ours, nothing)
