"""`lama`: a TorchScript LaMa model from a path the user gives, run on crops around the box.

The model takes image [N,3,H,W] (float, 0..1) and mask [N,1,H,W] (1 = fill) and returns the
image [N,3,H,W] (0..1). Crops are padded to a multiple of 8, batched over frames (frames of
one segment share the crop size), run on the chosen device, in half precision on CUDA.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from executor.engine.frames import Box, Frame
from executor.engine.inpaint.base import Inpainter, InpainterError, box_mask, composite, grow
from executor.engine.inpaint.plan import MarkPlan


class LamaInpainter(Inpainter):
    name = "lama"

    def __init__(self, model_path: str | Path | None, device: str = "auto", batch_size: int = 8):
        if model_path is None:
            raise InpainterError("the lama inpainter needs a model: pass --lama-model PATH")
        path = Path(model_path)
        if not path.is_file():
            raise InpainterError(f"LaMa model not found: {path}")
        try:
            import torch
        except ImportError as error:
            raise InpainterError(
                "the lama inpainter needs PyTorch, which is not installed"
            ) from error
        self.torch = torch
        self.device, self.half = _resolve_device(device)
        try:
            with warnings.catch_warnings():
                # TorchScript is deprecated upstream but is the format LaMa exports ship in.
                warnings.simplefilter("ignore", FutureWarning)
                model = torch.jit.load(str(path), map_location=self.device)
        except (RuntimeError, ValueError) as error:
            raise InpainterError(f"not a TorchScript model: {path} ({error})") from error
        model.eval()
        self.model = model.half() if self.half else model
        self.batch_size = max(1, batch_size)
        logger.info("lama: {} on {}{}", path.name, self.device, " (fp16)" if self.half else "")

    def fill(self, frames: Sequence[Frame], plan: MarkPlan) -> None:
        groups: dict[tuple[int, int], list[tuple[Frame, Box, Box, np.ndarray, Any]]] = {}
        for frame in frames:
            box = plan.box(frame.index)
            if box is None:
                continue
            x1, y1, x2, y2 = box
            pad = max(16, (y2 - y1), (x2 - x1) // 4)
            crop_box, crop = frame.read_region(grow(box, pad, frame.width, frame.height))
            weights = plan.mask(frame.index)
            groups.setdefault(crop.shape[:2], []).append((frame, box, crop_box, crop, weights))
        for items in groups.values():
            for start in range(0, len(items), self.batch_size):
                chunk = items[start : start + self.batch_size]
                images = np.stack([crop for _, _, _, crop, _ in chunk])
                masks = np.stack([box_mask(crop_box, box, w) for _, box, crop_box, _, w in chunk])
                filled = self._run(images, masks)
                for (frame, box, crop_box, _, _), fill in zip(chunk, filled, strict=True):
                    composite(frame, box, fill, crop_box, plan.feather)

    def _run(self, images: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """N HxWx3 uint8 crops and N HxW masks -> N HxWx3 uint8 fills."""
        torch = self.torch
        height, width = images.shape[1:3]
        pad_h, pad_w = (-height) % 8, (-width) % 8
        images = np.pad(images, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
        masks = np.pad(masks, ((0, 0), (0, pad_h), (0, pad_w)), mode="constant")
        dtype = torch.float16 if self.half else torch.float32
        with torch.inference_mode():
            image = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2)
            image = image.to(dtype) / 255.0
            mask = torch.from_numpy(masks).to(self.device)[:, None].to(dtype)
            out: Any = self.model(image, mask)
            out = out.float().clamp(0, 1).mul(255).round().to(torch.uint8)
            result = out.permute(0, 2, 3, 1).cpu().numpy()
        return np.asarray(result[:, :height, :width])


def _resolve_device(device: str) -> tuple[str, bool]:
    """(torch device, half precision?) — the detector's helpers when present."""
    try:
        from executor.engine.device import resolve_device, use_half  # type: ignore[import-not-found]
    except ImportError:
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return device, device.startswith("cuda")
    resolved = resolve_device(device)
    return str(resolved), bool(use_half(resolved))
