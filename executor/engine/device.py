"""Which torch device the engine runs on: `--device auto|cpu|cuda|cuda:N`."""

from __future__ import annotations

import re

_CUDA = re.compile(r"cuda(?::(\d+))?")


class DeviceError(ValueError):
    """the requested device is not available"""


def resolve_device(device: str = "auto") -> str:
    """A torch device string for `device`: "auto" is cuda:0 when torch sees a GPU, else cpu;
    "cuda" means cuda:0. A CUDA device that is not there is an error, not a silent fallback."""
    import torch

    name = device.strip().lower()
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    match = _CUDA.fullmatch(name)
    if match is None:
        raise DeviceError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N")
    index = int(match.group(1) or 0)
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {device!r} asked for, but torch sees no CUDA GPU "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
            "use --device cpu or auto"
        )
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(
            f"device {device!r} does not exist: torch sees {count} CUDA GPU"
            f"{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})"
        )
    return f"cuda:{index}"


def use_half(device: str) -> bool:
    """Half precision where it pays and is safe: on CUDA, not on CPU."""
    return device.startswith("cuda")
