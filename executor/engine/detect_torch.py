"""The detector's torch runtime: any ultralytics YOLO detection checkpoint (.pt) through
ultralytics. Optional: only the `torch` extra installs it (training, a checkpoint given with
--detector-weights, CUDA where ONNX Runtime has no CUDA provider); the shipped executor runs
the ONNX export instead (detect_onnx.py). Nothing here imports torch until a model loads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from executor.engine.detect_errors import BadWeights


def import_ultralytics(config_dir: Path | None = None) -> ModuleType:
    """Import ultralytics with its network use switched off.

    Its settings live under `config_dir` (default: YOLO_CONFIG_DIR if set, else a folder in
    the temp dir), never in the user's home. Must run before anything else imports it: the
    online check happens at import time.
    """
    os.environ["YOLO_OFFLINE"] = "1"  # no connectivity probe, no analytics, no downloads
    os.environ["YOLO_AUTOINSTALL"] = "false"  # never pip-install a missing requirement
    if config_dir is not None:
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    else:
        os.environ.setdefault(
            "YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "sorawm-ultralytics")
        )
    import ultralytics

    return ultralytics


class TorchModel:
    """A fused ultralytics model on `device`: NHWC uint8 batches in, the head's raw output
    (numpy, float32) out."""

    def __init__(self, path: Path, device: str, half: bool) -> None:
        import torch

        if device == "cpu":
            # One intra-op thread: the scanner's inputs are small crops, for which a second
            # thread costs more in hand-offs than it gains (x10 slower when the other core
            # is busy, e.g. with the decoder); whole frames lose ~25%, and they are rare.
            torch.set_num_threads(1)
        self.torch, self.device, self.half = torch, device, half
        ultralytics = import_ultralytics()
        try:
            yolo = ultralytics.YOLO(str(path.resolve()), task="detect")
            model, names = yolo.model, dict(yolo.names)
        except Exception as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BadWeights(
                f"detector weights {path} could not be loaded (not an ultralytics YOLO "
                f"checkpoint, or damaged): {type(error).__name__}: {first_line}"
            ) from error
        if getattr(yolo, "task", "detect") != "detect" or not hasattr(model, "stride"):
            raise BadWeights(
                f"detector weights {path} are not a detection model (task {yolo.task})"
            )
        self.names: dict[int, str] = names
        self.stride = int(max(int(s) for s in model.stride))
        if hasattr(model, "fuse"):  # conv + batch-norm folded: ~20% faster, same output
            model = model.fuse(verbose=False)
        model = model.to(device).eval()
        self.model = model.half() if half else model.float()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            tensor = torch.from_numpy(batch).to(self.device, non_blocking=True)
            tensor = tensor.permute(0, 3, 1, 2)
            tensor = (tensor.half() if self.half else tensor.float()) / 255.0
            output: Any = self.model(tensor)
            preds = output[0] if isinstance(output, list | tuple) else output
            return np.asarray(preds.float().cpu().numpy())
