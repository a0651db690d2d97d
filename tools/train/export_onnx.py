"""Export the shipped detector to ONNX, for the executor's torch-free runtime (ONNX Runtime).

    python -m tools.train.export_onnx            # weights/sorawm-yolo-n.pt → .onnx + .json

Offline (YOLO_OFFLINE, no auto-install, settings under a project-local folder), fp32, opset
17, dynamic batch/height/width (the engine batches whole frames and crops of any size), the
graph left as exported (no onnxslim: one dependency less; the runtime folds it at load). The
export's date is dropped from the model's metadata so that the file, and its sha256, repeat.
Beside it a small JSON card (hashes, training seeds) that `et_sorawm --version` and the
agent's capabilities read without loading anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

from executor.engine.detect import DEFAULT_IMGSZ, DEFAULT_WEIGHTS, import_ultralytics
from executor.engine.weights_card import WeightsCard

OPSET = 17
# the clips' seed of the run that made the shipped weights (stage 4, weights/README.md): the
# checkpoint records only the torch/numpy seed
SHIPPED_TRAIN_SEED = 3


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(weights: Path, out: Path, train_seed: int, imgsz: int = DEFAULT_IMGSZ) -> WeightsCard:
    """Write `out` (.onnx) and its card (.json) from the ultralytics checkpoint `weights`."""
    ultralytics = import_ultralytics(Path(".ultralytics").resolve())
    import onnx
    import torch

    checkpoint = torch.load(weights, map_location="cpu", weights_only=False)
    torch_seed = int((checkpoint.get("train_args") or {}).get("seed", 0))
    with tempfile.TemporaryDirectory() as tmp:
        # ultralytics writes the .onnx beside its input: export a copy, not the shipped file
        copy = Path(tmp) / weights.name
        shutil.copyfile(weights, copy)
        model = ultralytics.YOLO(str(copy), task="detect")
        made = model.export(format="onnx", imgsz=imgsz, dynamic=True, simplify=False, opset=OPSET)
        graph = onnx.load(made)
    kept = [prop for prop in graph.metadata_props if prop.key != "date"]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    onnx.save(graph, out)
    card = WeightsCard(
        file=out.name,
        sha256=sha256(out),
        source=weights.name,
        source_sha256=sha256(weights),
        train_seed=train_seed,
        torch_seed=torch_seed,
        opset=OPSET,
    )
    out.with_suffix(".json").write_text(json.dumps(card.model_dump(), indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.train.export_onnx")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS.with_suffix(".pt"))
    parser.add_argument("--out", type=Path, help="default: the weights' path with .onnx")
    parser.add_argument(
        "--train-seed", type=int, default=SHIPPED_TRAIN_SEED, help="the clips' training seed"
    )
    args = parser.parse_args(argv)
    out = args.out or args.weights.with_suffix(".onnx")
    card = export(args.weights, out, args.train_seed)
    print(f"{out} sha256 {card.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
