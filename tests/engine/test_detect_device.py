"""--device auto|cpu|cuda|cuda:N resolves to a real torch device or says clearly why not."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from executor.engine.device import DeviceError, resolve_device, use_half  # noqa: E402

GPUS = torch.cuda.device_count() if torch.cuda.is_available() else 0


def test_cpu_is_always_there() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(" CPU ") == "cpu"


def test_auto_picks_the_first_gpu_or_the_cpu() -> None:
    assert resolve_device("auto") == ("cuda:0" if GPUS else "cpu")


def test_a_cuda_device_that_does_not_exist_is_a_clear_error() -> None:
    expected = "does not exist: " if GPUS else "torch sees no CUDA GPU"
    with pytest.raises(DeviceError, match=expected):
        resolve_device(f"cuda:{GPUS + 3}")


@pytest.mark.skipif(GPUS > 0, reason="this machine has a GPU")
def test_plain_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(DeviceError, match="use --device cpu or auto"):
        resolve_device("cuda")


@pytest.mark.skipif(GPUS == 0, reason="needs a GPU")
def test_cuda_means_the_first_gpu() -> None:
    assert resolve_device("cuda") == "cuda:0"
    assert resolve_device(f"cuda:{GPUS - 1}") == f"cuda:{GPUS - 1}"


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "mps:0", ""])
def test_unknown_device_names_are_refused(name: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(name)


def test_half_precision_only_on_cuda() -> None:
    assert use_half("cuda:0") and use_half("cuda:1")
    assert not use_half("cpu")


NO_TORCH_SCRIPT = """
import sys

sys.modules["torch"] = None  # a build without torch: `import torch` fails, find_spec says None
from executor.engine.device import DeviceError, resolve_device

assert resolve_device("cpu") == "cpu"
assert resolve_device("auto") == "cpu"
try:
    resolve_device("cuda:0")
except DeviceError as error:
    print(error)
"""


def test_without_torch_the_device_is_resolved_from_onnx_runtime() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ONNX Runtime has no CUDA provider" in done.stdout
