"""The scanner finds the mark in every frame while the detector looks at only a few of them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("ultralytics") is None:
    pytest.skip("needs torch and ultralytics", allow_module_level=True)

from executor.engine.detect import Detector, nms  # noqa: E402
from executor.engine.frames import Box  # noqa: E402
from executor.engine.reader import VideoReader  # noqa: E402
from executor.engine.scan import STRIDE, Scanner, crop_region  # noqa: E402
from executor.engine.track import iou  # noqa: E402
from tools.synth import ClipFiles, ClipSpec, generate_clip, heldout_clips  # noqa: E402
from tools.train.dataset import EVAL_SEED_START  # noqa: E402

# 8 s at 15 fps, held-out seed: the mark jumps a few times, never on a sample frame only.
SPEC = ClipSpec(width=640, height=360, seconds=8.0, fps=15)


def truth_of(files: ClipFiles) -> list[Box | None]:
    """The clip's true mark box per frame."""
    raw = json.loads(files.boxes.read_text())
    return [
        None if raw[str(i)] is None else tuple(raw[str(i)])  # type: ignore[misc]
        for i in range(len(raw))
    ]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(device="cpu")


@pytest.fixture(scope="module")
def jumping_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClipFiles, list[Box | None]]:
    files = generate_clip(tmp_path_factory.mktemp("scan"), EVAL_SEED_START + 5, 0, SPEC)
    return files, truth_of(files)


@pytest.fixture(scope="module")
def clip_with_gaps(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClipFiles, list[Box | None]]:
    """The wide family's mark, away for 10 frames and for 2 frames between two places."""
    spec = ClipSpec(width=640, height=360, seconds=8.0, fps=15, family="sora")
    files = generate_clip(tmp_path_factory.mktemp("gaps"), EVAL_SEED_START + 5, 0, spec)
    return files, truth_of(files)


def scan(detector: Detector, path: Path, **options: object) -> Scanner:
    scanner = Scanner(detector, **options)  # type: ignore[arg-type]
    with VideoReader(path, copy=False) as reader:
        for frame in reader:
            scanner.add(frame)
    scanner.finish()
    return scanner


def jumps(truth: list[Box | None]) -> list[int]:
    return [i for i in range(1, len(truth)) if truth[i] != truth[i - 1]]


def test_every_frame_gets_the_mark_where_it_is(
    detector: Detector, jumping_clip: tuple[ClipFiles, list[Box | None]]
) -> None:
    files, truth = jumping_clip
    assert len(jumps(truth)) >= 2, "the test clip should make the mark jump"
    detections = scan(detector, files.marked).detections
    assert len(detections) == len(truth)
    wrong = [
        i
        for i, (found, box) in enumerate(zip(detections, truth, strict=True))
        if (box is None) != (not found) or (box is not None and iou(found[0].box, box) < 0.5)
    ]
    assert wrong == []


def test_frames_where_the_mark_is_away_between_two_places_get_no_mark(
    detector: Detector, clip_with_gaps: tuple[ClipFiles, list[Box | None]]
) -> None:
    files, truth = clip_with_gaps
    away = [i for i in range(1, len(truth) - 1) if truth[i] is None and truth[i - 1] is not None]
    assert away, "the test clip should take the mark away between two places"
    detections = scan(detector, files.marked).detections
    marked_while_away = [i for i, box in enumerate(truth) if box is None and detections[i]]
    assert marked_while_away == []


def test_a_weak_look_alike_seen_first_does_not_hide_the_mark_that_comes_later(
    detector: Detector, tmp_path: Path
) -> None:
    """The held-out "edge" clip: static white text from the first frame (the detector gives
    it ~0.4), the mark from frame 12 against the top edge (~0.8). Crop checks alone would
    keep confirming the text and never look at the whole frame again."""
    clip = next(c for c in heldout_clips(13, seconds=2.0) if c.name == "edge")
    files = generate_clip(tmp_path, clip.seed, clip.index, clip.spec)
    raw = json.loads(files.boxes.read_text())
    truth = [raw[str(i)] for i in range(len(raw))]
    detections = scan(detector, files.marked).detections
    marked = [i for i, box in enumerate(truth) if box is not None]
    found = [i for i in marked if detections[i] and iou(detections[i][0].box, truth[i]) >= 0.5]
    assert len(found) >= 0.9 * len(marked)


def test_the_detector_sees_a_fraction_of_the_frames(
    detector: Detector, jumping_clip: tuple[ClipFiles, list[Box | None]]
) -> None:
    files, truth = jumping_clip
    stats = scan(detector, files.marked).stats
    assert stats.frames == len(truth)
    assert stats.detector_images <= len(truth) / 3
    # Whole frames only at the start and where the mark moved; the rest are small crops.
    assert stats.whole <= 1 + 2 * len(jumps(truth))


def test_a_stride_of_one_agrees_with_the_sampled_scan(
    detector: Detector, jumping_clip: tuple[ClipFiles, list[Box | None]]
) -> None:
    files, _ = jumping_clip
    sampled = scan(detector, files.marked).detections
    every = scan(detector, files.marked, stride=1).detections
    positions = [[None if not f else f[0].box for f in run] for run in (sampled, every)]
    agree = sum(
        (a is None) == (b is None) and (a is None or iou(a, b) >= 0.5)  # type: ignore[arg-type]
        for a, b in zip(*positions, strict=True)
    )
    assert agree == len(sampled)


def test_each_frame_reaches_the_observer_once_in_order_with_its_box(
    detector: Detector, jumping_clip: tuple[ClipFiles, list[Box | None]]
) -> None:
    files, _ = jumping_clip
    seen: list[tuple[int, Box | None]] = []
    scanner = scan(detector, files.marked, on_frame=lambda f, box: seen.append((f.index, box)))
    assert [index for index, _ in seen] == list(range(len(scanner.detections)))
    assert [box for _, box in seen] == [
        None if not found else found[0].box for found in scanner.detections
    ]


def test_no_mark_means_no_detection_and_a_longer_stride(
    detector: Detector, jumping_clip: tuple[ClipFiles, list[Box | None]]
) -> None:
    files, truth = jumping_clip
    scanner = scan(detector, files.clean)
    assert sum(bool(found) for found in scanner.detections) <= 2  # isolated hits at most
    assert scanner.stats.detector_images <= len(truth) / STRIDE


def test_a_crop_check_region_holds_the_box_with_context_inside_the_frame() -> None:
    region = crop_region((600, 300, 640, 320), gain=1.0, width=640, height=360)
    x1, y1, x2, y2 = region
    assert x1 % 2 == 0 and y1 % 2 == 0
    # One box size of context each side (40x20 here), cut at the frame's right edge.
    assert x1 <= 560 and y1 <= 280 and x2 == 640 and 340 <= y2 <= 360
    assert crop_region((0, 0, 4, 4), gain=0.5, width=640, height=360)[2] >= 96 / 0.5 / 2


def test_nms_keeps_the_same_boxes_as_torchvision() -> None:
    import torch
    from torchvision.ops import nms as reference

    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 40))
        corner = rng.uniform(0, 100, (n, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(1, 40, (n, 2))], 1)
        boxes = boxes.astype(np.float32)
        scores = rng.uniform(0, 1, n).astype(np.float32)
        expected = reference(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).tolist()
        assert nms(boxes, scores, 0.5) == expected
