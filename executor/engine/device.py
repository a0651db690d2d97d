"""Which device the engine runs on: `--device auto|cpu|cuda|cuda:N`.

Torch is asked only where it is installed (a developer's checkout, LaMa); the executor's
one-file build has none, and there ONNX Runtime's CUDA provider (onnxruntime-gpu) and the
NVIDIA driver say whether a GPU can be used."""

from __future__ import annotations

import ctypes
import importlib.util
import re
import sys

_CUDA = re.compile(r"cuda(?::(\d+))?")


class DeviceError(ValueError):
    """the requested device is not available"""


def resolve_device(device: str = "auto") -> str:
    """A device string for `device`: "auto" is cuda:0 when a usable GPU is there, else cpu;
    "cuda" means cuda:0. A CUDA device that is not there is an error, not a silent fallback."""
    name = device.strip().lower()
    if name == "cpu":
        return "cpu"  # nothing imported: a CPU executor starts without torch or a driver
    match = _CUDA.fullmatch(name)
    if name != "auto" and match is None:
        raise DeviceError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")
    count, why_none = cuda_devices()
    if name == "auto":
        return "cuda:0" if count else "cpu"
    assert match is not None
    index = int(match.group(1) or 0)
    if not count:
        raise DeviceError(f"device {device!r} asked for, but {why_none}; use --device cpu or auto")
    if index >= count:
        raise DeviceError(
            f"device {device!r} does not exist: {count} CUDA GPU"
            f"{'s' if count != 1 else ''} here (cuda:0 to cuda:{count - 1})"
        )
    return f"cuda:{index}"


def cuda_devices() -> tuple[int, str]:
    """(how many CUDA GPUs this build can use, why none when 0)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.device_count(), ""
        return 0, (
            f"torch sees no CUDA GPU (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'no'})"
        )
    if importlib.util.find_spec("onnxruntime") is None:
        return 0, "neither torch nor ONNX Runtime is installed"
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return 0, "this build's ONNX Runtime has no CUDA provider (a CPU build)"
    count = _driver_device_count()
    return count, "" if count else "the NVIDIA driver reports no GPU"


def _driver_device_count() -> int:
    """GPUs the NVIDIA driver sees (CUDA driver API), 0 without a driver."""
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        cuda = ctypes.CDLL(name)
        count = ctypes.c_int(0)
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
    except OSError:
        return 0
    return count.value


def cuda_device_info(index: int) -> tuple[str, int] | None:
    """(name, memory in MiB) of CUDA GPU `index`: from torch where installed, else from the
    NVIDIA driver (a build without torch); None when neither can tell."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        props = torch.cuda.get_device_properties(index)
        return str(props.name), int(props.total_memory // (1024 * 1024))
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        cuda = ctypes.CDLL(name)
        device, raw, memory = ctypes.c_int(0), ctypes.create_string_buffer(256), ctypes.c_size_t(0)
        if (
            cuda.cuInit(0) != 0
            or cuda.cuDeviceGet(ctypes.byref(device), index) != 0
            or cuda.cuDeviceGetName(raw, len(raw), device) != 0
            or cuda.cuDeviceTotalMem_v2(ctypes.byref(memory), device) != 0
        ):
            return None
    except OSError:
        return None
    return raw.value.decode(errors="replace"), memory.value // (1024 * 1024)


def use_half(device: str) -> bool:
    """Half precision where it pays and is safe: on CUDA, not on CPU."""
    return device.startswith("cuda")
