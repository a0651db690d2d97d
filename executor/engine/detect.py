"""The watermark detector: a YOLO model run in batches on RGB frames.

The shipped weights (weights/sorawm-yolo-n.onnx, exported by `python -m tools.train.export_onnx`
from weights/sorawm-yolo-n.pt, made by `python -m tools.train`) find the Sora mark; they run
with ONNX Runtime (detect_onnx.py: no torch). Any ultralytics YOLO detection checkpoint (.pt),
such as SoraWatermarkCleaner's single-class detector, or its ONNX export loads too; a .pt
runs through ultralytics and torch (detect_torch.py, the `torch` extra). Which classes count
as the watermark: those whose name contains "watermark" (any case), or class 0 when no name
does. The other classes are ignored.

Nothing here touches the network: ultralytics is imported offline (YOLO_OFFLINE, no
auto-install), a weights path must be an existing file (ultralytics would otherwise try to
download a bare name such as "yolo11n.pt"), and inference runs on the model itself.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from loguru import logger

from executor.engine.detect_errors import BadWeights, DetectorError, WeightsNotFound
from executor.engine.detect_torch import import_ultralytics
from executor.engine.device import resolve_device, use_half
from executor.engine.frames import Box
from executor.engine.weights_card import SHIPPED_WEIGHTS

__all__ = [
    "BadWeights",
    "Detection",
    "Detector",
    "DetectorError",
    "View",
    "WeightsNotFound",
    "import_ultralytics",
    "nms",
    "watermark_classes",
]

DEFAULT_WEIGHTS = SHIPPED_WEIGHTS
WEIGHTS_DIR = DEFAULT_WEIGHTS.parent
DEFAULT_CONF = 0.25
DEFAULT_IMGSZ = 640  # network width of a frame (see Detector.scale_for)
NMS_IOU = 0.5
MAX_PER_FRAME = 10
_PAD_VALUE = 114  # ultralytics' letterbox grey


@dataclass(frozen=True)
class View:
    """How a network image maps back to its frame: frame pixel = (image pixel + offset) / gain,
    where (left, top) is the image's origin in the whole scaled frame (0, 0 unless a crop)."""

    gain: float
    frame_size: tuple[int, int]  # width, height of the frame
    left: int = 0
    top: int = 0


@dataclass(frozen=True)
class Detection:
    box: Box  # x1, y1, x2, y2 in frame pixels; x2 and y2 exclusive
    score: float


class Detector:
    """Finds the watermark in frames.

    >>> detector = Detector(device="auto")
    >>> detections = detector.detect([frame.rgb() for frame in frames])  # one list per frame
    """

    def __init__(
        self,
        weights: Path | str | None = None,
        device: str = "auto",
        batch_size: int = 16,
        conf: float = DEFAULT_CONF,
        imgsz: int = DEFAULT_IMGSZ,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 0.0 < conf < 1.0:
            raise ValueError("conf must be between 0 and 1")
        self.weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        self.device = resolve_device(device)
        self.batch_size, self.conf = batch_size, conf
        self.runtime, self._model, names, self.stride = _load_model(self.weights, self.device)
        self.half = self.runtime == "torch" and use_half(self.device)
        self.imgsz = max(self.stride, imgsz - imgsz % self.stride)
        self.names = names
        self.classes = watermark_classes(names)
        self._num_classes = len(names)
        logger.info(
            "detector: {} on {}{} with {} (classes {}, imgsz {}, batch {})",
            self.weights.name,
            self.device,
            " half" if self.half else "",
            self.runtime,
            [names[i] for i in self.classes],
            self.imgsz,
            self.batch_size,
        )

    def scale_for(self, width: int, height: int) -> float:
        """Network pixels per frame pixel: the frame's *width* maps to imgsz, since the mark is
        a fixed share of the width (a portrait frame scaled by its long side would shrink the
        mark to half the size the detector knows); very tall frames are capped at 2x imgsz."""
        return min(self.imgsz / width, 2 * self.imgsz / height)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detections for each RGB HxWx3 uint8 frame, best first; boxes in frame pixels."""
        results: list[list[Detection]] = []
        for frame in frames:
            _check_image(frame)
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start : start + self.batch_size]
            images, views = [], []
            for frame in chunk:
                height, width = frame.shape[:2]
                gain = self.scale_for(width, height)
                size = (max(1, round(width * gain)), max(1, round(height * gain)))
                images.append(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
                views.append(View(gain=gain, frame_size=(width, height)))
            results.extend(self.detect_scaled(images, views))
        return results

    def detect_scaled(
        self, images: Sequence[np.ndarray], views: Sequence[View], conf: float | None = None
    ) -> list[list[Detection]]:
        """Detections in images already scaled for the network (whole frames or crops of
        them: each `View` says how to map the image back to its frame). `conf`: another
        confidence threshold than the detector's own (looking again where the mark was)."""
        results: list[list[Detection]] = []
        for start in range(0, len(images), self.batch_size):
            results.extend(
                self._detect_batch(
                    images[start : start + self.batch_size],
                    views[start : start + self.batch_size],
                    self.conf if conf is None else conf,
                )
            )
        return results

    def _detect_batch(
        self, images: Sequence[np.ndarray], views: Sequence[View], conf: float
    ) -> list[list[Detection]]:
        boxes, scores = self._decode(self._model(self._canvas(images)))
        return [
            self._frame_detections(b, s, view, conf)
            for b, s, view in zip(boxes, scores, views, strict=True)
        ]

    def _canvas(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The images top-left on one grey canvas (a multiple of the stride) for the batch."""
        for image in images:
            _check_image(image)
        canvas_h = _round_up(max(image.shape[0] for image in images), self.stride)
        canvas_w = _round_up(max(image.shape[1] for image in images), self.stride)
        batch = np.full((len(images), canvas_h, canvas_w, 3), _PAD_VALUE, dtype=np.uint8)
        for slot, image in zip(batch, images, strict=True):
            slot[: image.shape[0], : image.shape[1]] = image
        return batch

    def _decode(self, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """xyxy boxes (network pixels) and watermark scores from the head's raw output:
        (B, 4 + classes, anchors) for YOLOv8/11-style heads, (B, N, 6) for end-to-end ones."""
        if preds.ndim == 3 and preds.shape[1] == 4 + self._num_classes:
            xywh = preds[:, :4].transpose(0, 2, 1)
            half_wh = xywh[..., 2:] / 2
            xyxy = np.concatenate([xywh[..., :2] - half_wh, xywh[..., :2] + half_wh], axis=-1)
            scores = preds[:, 4:][:, self.classes].max(axis=1)
            return xyxy, scores
        if preds.ndim == 3 and preds.shape[2] == 6:
            keep = np.isin(preds[..., 5].astype(int), self.classes)
            return preds[..., :4], preds[..., 4] * keep
        raise BadWeights(f"{self.weights}: unsupported detection head output {tuple(preds.shape)}")

    def _frame_detections(
        self, boxes: np.ndarray, scores: np.ndarray, view: View, conf: float
    ) -> list[Detection]:
        keep = scores > conf
        if not keep.any():
            return []
        boxes, scores = boxes[keep], scores[keep]
        kept = nms(boxes, scores, NMS_IOU)
        width, height = view.frame_size
        offset = np.array([view.left, view.top, view.left, view.top], dtype=np.float64)
        detections = []
        for i in kept[:MAX_PER_FRAME]:
            x1, y1, x2, y2 = (boxes[i] + offset) / view.gain
            box = (
                int(np.clip(np.floor(x1), 0, width)),
                int(np.clip(np.floor(y1), 0, height)),
                int(np.clip(np.ceil(x2), 0, width)),
                int(np.clip(np.ceil(y2), 0, height)),
            )
            if box[2] > box[0] and box[3] > box[1]:
                detections.append(Detection(box, float(scores[i])))
        return detections


def watermark_classes(names: dict[int, str]) -> list[int]:
    """Class indices that count as the watermark: named so, else class 0."""
    named = [i for i, name in sorted(names.items()) if "watermark" in str(name).lower()]
    return named or [0]


Model = Callable[[np.ndarray], np.ndarray]  # NHWC uint8 batch → the head's raw output


def _load_model(path: Path, device: str) -> tuple[str, Model, dict[int, str], int]:
    """(runtime name, model, class names, stride) for a weights file: an .onnx export runs
    with ONNX Runtime, an ultralytics .pt checkpoint with torch. On a CUDA device with an ONNX
    Runtime that has no CUDA provider, the .pt beside the shipped .onnx runs on torch when
    torch is installed (a developer's GPU box), rather than failing or falling to the CPU."""
    if not path.is_file():
        raise WeightsNotFound(f"detector weights not found: {path}")
    if path.suffix not in {".onnx", ".pt"}:
        raise BadWeights(
            f"detector weights must be a YOLO .onnx export or an ultralytics .pt file: {path}"
        )
    if path.suffix == ".onnx":
        from executor.engine.detect_onnx import OnnxModel, cuda_provider_available

        checkpoint = path.with_suffix(".pt")
        if (
            device.startswith("cuda")
            and not cuda_provider_available()
            and checkpoint.is_file()
            and _torch_installed()
        ):
            logger.info(
                "detector: ONNX Runtime has no CUDA provider here; torch runs {}", checkpoint.name
            )
            path = checkpoint
        else:
            onnx_model = OnnxModel(path, device)
            return "onnxruntime", onnx_model, onnx_model.names, onnx_model.stride
    if not _torch_installed():
        raise DetectorError(
            f"detector weights {path} are an ultralytics checkpoint, which needs torch and "
            "ultralytics (pip install '.[torch]'); the shipped weights are an .onnx export"
        )
    from executor.engine.detect_torch import TorchModel

    torch_model = TorchModel(path, device, half=use_half(device))
    return "torch", torch_model, torch_model.names, torch_model.stride


def _torch_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "ultralytics"))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression (xyxy boxes): indices kept, best first. In numpy: a
    frame has a handful of candidates above the threshold, and importing torchvision's
    version alone costs seconds at start-up."""
    order = list(np.argsort(-scores, kind="stable"))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=np.int64)
        kept.append(int(best))
        if not len(rest):
            break
        inter_w = np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(
            boxes[best, 0], boxes[rest, 0]
        )
        inter_h = np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(
            boxes[best, 1], boxes[rest, 1]
        )
        inter = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = list(rest[overlap <= iou_threshold])
    return kept


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"frames must be HxWx3 uint8 RGB, got {image.shape} {image.dtype}")


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
