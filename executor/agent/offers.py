"""What this build of the executor can run, told without loading the engine or a runtime:
the detector weights (from their JSON card), the inpainters and the devices. `et_sorawm
--version` prints it and the agent sends it with its capabilities.

Found by what is installed (importlib's find_spec, no import): LaMa needs torch; CUDA needs
torch or ONNX Runtime's CUDA provider (onnxruntime-gpu). The CPU build ships neither."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import BaseModel

from executor import __version__
from executor.engine.weights_card import SHIPPED_WEIGHTS, read_card
from shared.contract import BASE_INPAINTERS


class Offers(BaseModel):
    detector: str  # the weights file, its hash and training seeds
    inpainters: list[str]  # lama: only with a LaMa model given (--lama-model)
    devices: list[str]

    def lines(self) -> str:
        return (
            f"et_sorawm {__version__}\n"
            f"detector: {self.detector}\n"
            f"inpainters: {', '.join(self.inpainters)}\n"
            f"devices: {', '.join(self.devices)}"
        )


def build_offers(weights: Path | None = None) -> Offers:
    path = weights or SHIPPED_WEIGHTS
    card = read_card(path) if path.suffix == ".onnx" else None
    torch = _installed("torch")
    return Offers(
        detector=card.summary() if card is not None else path.name,
        inpainters=[*BASE_INPAINTERS, *(["lama"] if torch else [])],
        devices=["cpu", *(["cuda"] if torch or _onnxruntime_has_cuda() else [])],
    )


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _onnxruntime_has_cuda() -> bool:
    """onnxruntime-gpu ships its CUDA provider as a library beside the package's code."""
    spec = importlib.util.find_spec("onnxruntime") if _installed("onnxruntime") else None
    if spec is None or not spec.submodule_search_locations:
        return False
    folder = Path(next(iter(spec.submodule_search_locations))) / "capi"
    return any(folder.glob("*onnxruntime_providers_cuda*"))
