"""The watermark detector: an ultralytics YOLO model run in batches on RGB frames.

The shipped weights (weights/sorawm-yolo-n.pt, made by `python -m tools.train`)
find the Sora mark; any other ultralytics YOLO detection checkpoint (.pt) loads too, such as
SoraWatermarkCleaner's single-class detector. Which classes count as the watermark: those
whose name contains "watermark" (any case), or class 0 when no name does. The other
classes are ignored.

Nothing here touches the network: ultralytics is imported offline (YOLO_OFFLINE, no
auto-install), a weights path must be an existing file (ultralytics would otherwise try to
download a bare name such as "yolo11n.pt"), and inference runs on the torch module itself.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
from loguru import logger

from executor.engine.device import resolve_device, use_half
from executor.engine.frames import Box

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "sorawm-yolo-n.pt"
DEFAULT_CONF = 0.25
DEFAULT_IMGSZ = 640  # network width of a frame (see Detector.scale_for)
NMS_IOU = 0.5
MAX_PER_FRAME = 10
_PAD_VALUE = 114  # ultralytics' letterbox grey


class DetectorError(Exception):
    """the watermark detector could not be set up"""


class WeightsNotFound(DetectorError):
    """detector weights file not found"""


class BadWeights(DetectorError):
    """detector weights file is not a usable ultralytics YOLO detection checkpoint"""


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
        if self.device == "cpu":
            import torch

            # One intra-op thread: the scanner's inputs are small crops, for which a second
            # thread costs more in hand-offs than it gains (x10 slower when the other core
            # is busy, e.g. with the decoder); whole frames lose ~25%, and they are rare.
            torch.set_num_threads(1)
        self.half = use_half(self.device)
        self.batch_size, self.conf = batch_size, conf
        model, names = _load_model(self.weights)
        self.stride = int(max(int(s) for s in model.stride))
        self.imgsz = max(self.stride, imgsz - imgsz % self.stride)
        self.names = names
        self.classes = watermark_classes(names)
        self._num_classes = len(names)
        if hasattr(model, "fuse"):  # conv + batch-norm folded: ~20% faster, same output
            model = model.fuse(verbose=False)
        model = model.to(self.device).eval()
        self.model = model.half() if self.half else model.float()
        logger.info(
            "detector: {} on {}{} (classes {}, imgsz {}, batch {})",
            self.weights.name,
            self.device,
            " half" if self.half else "",
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
        import torch

        batch = self._canvas(images)
        with torch.inference_mode():
            tensor = torch.from_numpy(batch).to(self.device, non_blocking=True)
            tensor = tensor.permute(0, 3, 1, 2)
            tensor = (tensor.half() if self.half else tensor.float()) / 255.0
            output = self.model(tensor)
            boxes, scores = self._decode(output[0] if isinstance(output, list | tuple) else output)
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

    def _decode(self, preds: Any) -> tuple[Any, Any]:
        """xyxy boxes (network pixels) and watermark scores from the head's raw output:
        (B, 4 + classes, anchors) for YOLOv8/11-style heads, (B, N, 6) for end-to-end ones."""
        import torch

        if preds.ndim == 3 and preds.shape[1] == 4 + self._num_classes:
            xywh = preds[:, :4].transpose(1, 2).float()
            half_wh = xywh[..., 2:] / 2
            xyxy = torch.cat([xywh[..., :2] - half_wh, xywh[..., :2] + half_wh], dim=-1)
            scores = preds[:, 4:][:, self.classes].amax(dim=1).float()
            return xyxy.cpu().numpy(), scores.cpu().numpy()
        if preds.ndim == 3 and preds.shape[2] == 6:
            keep = np.isin(preds[..., 5].cpu().numpy().astype(int), self.classes)
            scores = preds[..., 4].float().cpu().numpy() * keep
            return preds[..., :4].float().cpu().numpy(), scores
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


def _load_model(path: Path) -> tuple[Any, dict[int, str]]:
    """The torch module and class names of an ultralytics detection checkpoint."""
    if not path.is_file():
        raise WeightsNotFound(f"detector weights not found: {path}")
    if path.suffix != ".pt":
        raise BadWeights(f"detector weights must be an ultralytics YOLO .pt file: {path}")
    ultralytics = import_ultralytics()
    try:
        yolo = ultralytics.YOLO(str(path.resolve()), task="detect")
        model, names = yolo.model, dict(yolo.names)
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise BadWeights(
            f"detector weights {path} could not be loaded (not an ultralytics YOLO checkpoint, "
            f"or damaged): {type(error).__name__}: {first_line}"
        ) from error
    if getattr(yolo, "task", "detect") != "detect" or not hasattr(model, "stride"):
        raise BadWeights(f"detector weights {path} are not a detection model (task {yolo.task})")
    return model, names


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
