"""What the shipped detector weights are (hashes, training seeds), read from the JSON card
beside them: plain pydantic and the standard library, so `et_sorawm --version` and the agent's
capabilities can name the weights without loading a runtime."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

SHIPPED_WEIGHTS = Path(__file__).parent / "weights" / "sorawm-yolo-n.onnx"


class WeightsCard(BaseModel):
    file: str  # the ONNX file the engine runs
    sha256: str
    source: str  # the ultralytics checkpoint it was exported from
    source_sha256: str
    train_seed: int  # the synthetic clips' seed
    torch_seed: int
    opset: int

    def summary(self) -> str:
        return (
            f"{self.file} sha256:{self.sha256[:12]} (from {self.source} "
            f"sha256:{self.source_sha256[:12]}, training seed {self.train_seed}, "
            f"torch seed {self.torch_seed})"
        )


def read_card(weights: Path) -> WeightsCard | None:
    """The card beside `weights` (same name, .json), or None when it has none."""
    path = weights.with_suffix(".json")
    if not path.is_file():
        return None
    return WeightsCard.model_validate_json(path.read_text())
