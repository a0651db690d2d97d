"""The shipped detector's ONNX export, run by ONNX Runtime without torch, finds the same boxes
as the ultralytics checkpoint it was exported from (within 1 px) on held-out clips, and the
engine's detector needs no torch."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("ultralytics") is None:
    pytest.skip("needs torch and ultralytics (the checkpoint's runtime)", allow_module_level=True)

from executor.engine.detect import DEFAULT_WEIGHTS, Detection, Detector, View  # noqa: E402
from executor.engine.video import VideoReader  # noqa: E402
from executor.engine.weights_card import read_card  # noqa: E402
from tools.synth import ClipSpec, generate_clip  # noqa: E402
from tools.train.dataset import EVAL_SEED_START  # noqa: E402

CLIPS = [
    (EVAL_SEED_START + 7, ClipSpec(width=640, height=360, seconds=2.0, fps=15)),
    (EVAL_SEED_START + 8, ClipSpec(width=704, height=1280, seconds=2.0, fps=15)),
]


@pytest.fixture(scope="module")
def runtimes() -> tuple[Detector, Detector]:
    onnx = Detector(device="cpu")
    torch = Detector(DEFAULT_WEIGHTS.with_suffix(".pt"), device="cpu")
    assert (onnx.runtime, torch.runtime) == ("onnxruntime", "torch")
    return onnx, torch


def assert_same(found: list[list[Detection]], expected: list[list[Detection]]) -> None:
    assert len(found) == len(expected)
    for index, (ours, theirs) in enumerate(zip(found, expected, strict=True)):
        assert len(ours) == len(theirs), (index, ours, theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert np.abs(np.subtract(a.box, b.box)).max() <= 1, (index, a, b)
            assert abs(a.score - b.score) < 0.01, (index, a, b)


@pytest.mark.parametrize("seed, spec", CLIPS, ids=["landscape", "portrait"])
def test_onnx_export_finds_the_checkpoints_boxes(
    runtimes: tuple[Detector, Detector], tmp_path: Path, seed: int, spec: ClipSpec
) -> None:
    files = generate_clip(tmp_path, seed, 0, spec)
    with VideoReader(files.marked, copy=True) as reader:
        frames = [frame.rgb() for frame in reader]
    onnx, torch = runtimes
    expected = torch.detect(frames)
    assert sum(map(len, expected)) >= len(frames) // 2  # the clip shows the mark
    assert_same(onnx.detect(frames), expected)
    # crops at the scanner's lower threshold: the other path through the network
    crops = [frame[: frame.shape[0] // 2, : frame.shape[1] // 2] for frame in frames]
    views = [View(gain=1.0, frame_size=(c.shape[1], c.shape[0])) for c in crops]
    assert_same(onnx.detect_scaled(crops, views, conf=0.1), torch.detect_scaled(crops, views, 0.1))


def test_shipped_onnx_file_is_the_one_its_card_names() -> None:
    import hashlib

    card = read_card(DEFAULT_WEIGHTS)
    assert card is not None and card.file == DEFAULT_WEIGHTS.name
    assert hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest() == card.sha256
    source = DEFAULT_WEIGHTS.with_suffix(".pt")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == card.source_sha256


# None in sys.modules: `import torch` fails and find_spec answers None, as where it is absent
NO_TORCH_SCRIPT = """
import sys

for name in ("torch", "torchvision", "ultralytics"):
    sys.modules[name] = None
import numpy as np
from executor.engine.detect import Detector

detector = Detector(device="auto")
assert detector.runtime == "onnxruntime" and detector.device == "cpu", detector.device
assert detector.detect([np.zeros((360, 640, 3), np.uint8)]) == [[]]
assert all(sys.modules[name] is None for name in ("torch", "torchvision", "ultralytics"))
print("no torch ok")
"""


def test_the_shipped_detector_runs_without_torch() -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "no torch ok" in result.stdout, result.stderr[-2000:]
