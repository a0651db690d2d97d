"""The detector's default runtime: the YOLO model exported to ONNX (tools/train/export_onnx.py)
run with ONNX Runtime, on its CPU provider or, for cuda:N, its CUDA provider. No torch, no
ultralytics: the executor's one-file build ships only this."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from executor.engine.detect_errors import BadWeights, DetectorError

CUDA_PROVIDER = "CUDAExecutionProvider"


def cuda_provider_available() -> bool:
    """Whether this ONNX Runtime build can run on CUDA (onnxruntime-gpu), not whether a GPU is
    there."""
    import onnxruntime

    return CUDA_PROVIDER in onnxruntime.get_available_providers()


class OnnxModel:
    """An exported ultralytics detection model: NHWC uint8 batches in, the head's raw output
    (float32, (B, 4 + classes, anchors)) out."""

    def __init__(self, path: Path, device: str) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings go to stderr, not loguru
        if device == "cpu":
            # one thread, as the torch runtime: the scanner's inputs are small crops, for
            # which a second thread costs more in hand-offs than it gains
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            providers: list[str | tuple[str, dict[str, str]]] = ["CPUExecutionProvider"]
        else:
            if not cuda_provider_available():
                raise DetectorError(
                    f"device {device} asked for, but this ONNX Runtime has no CUDA provider "
                    "(install onnxruntime-gpu, or give --detector-weights a .pt checkpoint "
                    "with torch installed)"
                )
            # onnxruntime-gpu finds CUDA and cuDNN in the NVIDIA wheels beside it (also inside
            # a build: the spec keeps that layout), not on the loader's default path
            if hasattr(onnxruntime, "preload_dlls"):
                onnxruntime.preload_dlls()
            index = device.partition(":")[2] or "0"
            providers = [(CUDA_PROVIDER, {"device_id": index}), "CPUExecutionProvider"]
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=providers
            )
            meta = self.session.get_modelmeta().custom_metadata_map
            self.names: dict[int, str] = {
                int(k): str(v)
                for k, v in ast.literal_eval(meta.get("names", "{0: 'item'}")).items()
            }
            self.stride = int(meta.get("stride", "32"))
        except Exception as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BadWeights(
                f"detector weights {path} could not be loaded (not an exported YOLO ONNX "
                f"model, or damaged): {type(error).__name__}: {first_line}"
            ) from error
        if meta.get("task", "detect") != "detect":
            raise BadWeights(f"detector weights {path} are not a detection model")
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        (preds,) = self.session.run(None, {self.input_name: tensor})[:1]
        return np.asarray(preds, dtype=np.float32)
