"""The shipped detector finds the mark in held-out synthetic videos, offline, on CPU.

Held-out means an evaluation seed (>= 1_000_000): training only uses seeds below that.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

# find_spec, not importorskip: importing ultralytics before the detector does would let it
# probe the network.
if importlib.util.find_spec("torch") is None or importlib.util.find_spec("ultralytics") is None:
    pytest.skip("needs torch and ultralytics", allow_module_level=True)

from executor.engine.detect import (  # noqa: E402
    DEFAULT_WEIGHTS,
    BadWeights,
    Detection,
    Detector,
    WeightsNotFound,
)
from executor.engine.track import track  # noqa: E402
from tools.synth import ClipSpec, generate_clip  # noqa: E402
from tools.train.dataset import EVAL_SEED_START  # noqa: E402
from tools.train.evaluate import detect_video, evaluate_clip  # noqa: E402

# 4 s at 15 fps: 60 frames, one or two jumps; landscape and portrait, small for speed.
LANDSCAPE = ClipSpec(width=640, height=360, seconds=4.0, fps=15)
PORTRAIT = ClipSpec(width=704, height=1280, seconds=4.0, fps=15)
# Measured with the shipped weights and the engine's scanner: 1.0 on both clips (goal 0.99),
# and 1.0 over 8 held-out clips of 6 s at 30 fps: see weights/README.md.
MIN_RECALL = 0.99
MIN_PRECISION = 0.99


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(device="cpu", batch_size=16)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("clips")


OFFLINE_SCRIPT = """
import socket

def refuse(*args, **kwargs):
    raise AssertionError("the detector touched the network")

socket.getaddrinfo = refuse
socket.create_connection = refuse
socket.socket.connect = refuse
import numpy as np
from executor.engine.detect import Detector

detector = Detector(device="cpu")
assert detector.classes == [0] and detector.device == "cpu" and not detector.half
assert detector.names == {0: "watermark"}
assert detector.detect([np.zeros((64, 96, 3), np.uint8)]) == [[]]
print("offline ok")
"""


def test_shipped_weights_are_small_and_load_offline() -> None:
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size < 16_000_000
    # A fresh interpreter: ultralytics checks connectivity when first imported.
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "offline ok" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("spec", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_finds_the_mark_in_a_held_out_clip(detector: Detector, clips: Path, spec: ClipSpec) -> None:
    score, found = evaluate_clip(detector, clips, EVAL_SEED_START, 0, spec)
    assert score.marked > 0
    assert score.recall >= MIN_RECALL, score.line()
    assert score.precision >= MIN_PRECISION, score.line()
    assert score.coverage >= MIN_RECALL, score.line()


def test_no_detections_in_a_clip_without_the_mark(detector: Detector, clips: Path) -> None:
    files = generate_clip(clips, EVAL_SEED_START + 1, 0, LANDSCAPE)
    detections, fps, _ = detect_video(detector, files.clean)
    assert len(detections) == LANDSCAPE.frames
    found = track(detections, width=LANDSCAPE.width, height=LANDSCAPE.height, fps=fps)
    # The raw detector fires now and then on clean frames (19 of these 60 frames when
    # measured, each at a different spot); tracking drops such isolated hits.
    assert found.segments == []
    assert all(box is None for box in found.boxes)


def test_frames_of_different_sizes_in_one_batch(detector: Detector) -> None:
    frames = [np.full((360, 640, 3), 40, np.uint8), np.full((200, 120, 3), 200, np.uint8)]
    result = detector.detect(frames)
    assert len(result) == 2 and all(isinstance(d, list) for d in result)
    assert detector.detect([]) == []


def test_rejects_frames_that_are_not_rgb_uint8(detector: Detector) -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        detector.detect([np.zeros((32, 32), np.uint8)])


def test_missing_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    with pytest.raises(WeightsNotFound, match="detector weights not found: .*nope.pt"):
        Detector(missing, device="cpu")


@pytest.mark.parametrize(
    "content", [b"", b"this is not a checkpoint" * 50], ids=["empty", "garbage"]
)
def test_garbage_weights_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(BadWeights, match="could not be loaded"):
        Detector(path, device="cpu")


def test_weights_of_another_format_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\0" * 10)
    with pytest.raises(BadWeights, match=r"\.onnx export or an ultralytics \.pt"):
        Detector(path, device="cpu")


def test_a_damaged_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\0" * 10)
    with pytest.raises(BadWeights, match="could not be loaded"):
        Detector(path, device="cpu")


def test_detection_is_a_plain_value() -> None:
    assert Detection((1, 2, 3, 4), 0.5) == Detection((1, 2, 3, 4), 0.5)
