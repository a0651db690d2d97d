"""The watermark detector: an ultralytics YOLO model run in batches on RGB frames.

The shipped weights (weights/sorawm-yolo-n.pt, made by `python -m executor.engine.train`)
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
DEFAULT_IMGSZ = 640  # long side of the network input; the shipped weights are made for it
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
        self.half = use_half(self.device)
        self.batch_size, self.conf = batch_size, conf
        model, names = _load_model(self.weights)
        self.stride = int(max(int(s) for s in model.stride))
        self.imgsz = max(self.stride, imgsz - imgsz % self.stride)
        self.classes = watermark_classes(names)
        self._num_classes = len(names)
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

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detections for each RGB HxWx3 uint8 frame, best first; boxes in frame pixels."""
        results: list[list[Detection]] = []
        for start in range(0, len(frames), self.batch_size):
            results.extend(self._detect_batch(frames[start : start + self.batch_size]))
        return results

    def _detect_batch(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        import torch

        batch, gains = self._prepare(frames)
        with torch.inference_mode():
            tensor = torch.from_numpy(batch).to(self.device, non_blocking=True)
            tensor = tensor.permute(0, 3, 1, 2)
            tensor = (tensor.half() if self.half else tensor.float()) / 255.0
            output = self.model(tensor)
            boxes, scores = self._decode(output[0] if isinstance(output, list | tuple) else output)
            return [
                self._frame_detections(b, s, gain, frame.shape[:2])
                for b, s, gain, frame in zip(boxes, scores, gains, frames, strict=True)
            ]

    def _prepare(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, list[float]]:
        """Scale each frame so its long side is imgsz and put it top-left on one grey canvas
        (a multiple of the stride) shared by the batch."""
        resized, gains = [], []
        for frame in frames:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"frames must be HxWx3 uint8 RGB, got {frame.shape} {frame.dtype}")
            height, width = frame.shape[:2]
            gain = self.imgsz / max(height, width)
            size = (max(1, round(width * gain)), max(1, round(height * gain)))
            resized.append(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
            gains.append(gain)
        canvas_h = _round_up(max(r.shape[0] for r in resized), self.stride)
        canvas_w = _round_up(max(r.shape[1] for r in resized), self.stride)
        batch = np.full((len(resized), canvas_h, canvas_w, 3), _PAD_VALUE, dtype=np.uint8)
        for slot, image in zip(batch, resized, strict=True):
            slot[: image.shape[0], : image.shape[1]] = image
        return batch, gains

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
        self, boxes: np.ndarray, scores: np.ndarray, gain: float, shape: tuple[int, int]
    ) -> list[Detection]:
        import torch
        from torchvision.ops import nms

        keep = scores > self.conf
        if not keep.any():
            return []
        boxes, scores = boxes[keep], scores[keep]
        kept = nms(torch.from_numpy(boxes), torch.from_numpy(scores), NMS_IOU).numpy()
        height, width = shape
        detections = []
        for i in kept[:MAX_PER_FRAME]:
            x1, y1, x2, y2 = boxes[i] / gain
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


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
