"""Inpainters: repaint the box under the mark. Chosen by name:

- `temporal` (default): from the same spot at other times, aligned for camera motion.
- `telea`: OpenCV's spatial fill, per frame.
- `lama`: a TorchScript LaMa model given by path.
"""

from __future__ import annotations

from pathlib import Path

from executor.engine.inpaint.base import Inpainter, InpainterError
from executor.engine.inpaint.plan import MarkPlan, Segment, margin_for

NAMES = ("temporal", "telea", "lama")


def make_inpainter(
    name: str,
    *,
    device: str = "auto",
    lama_model: str | Path | None = None,
    fps: float = 30.0,
) -> Inpainter:
    """The inpainter called `name`; raises InpainterError for an unknown name."""
    if name == "temporal":
        from executor.engine.inpaint.temporal import TemporalInpainter

        return TemporalInpainter(fps=fps or 30.0)
    if name == "telea":
        from executor.engine.inpaint.telea import TeleaInpainter

        return TeleaInpainter()
    if name == "lama":
        from executor.engine.inpaint.lama import LamaInpainter

        return LamaInpainter(lama_model, device=device)
    raise InpainterError(f"unknown inpainter {name!r}: choose one of {', '.join(NAMES)}")


__all__ = [
    "NAMES",
    "Inpainter",
    "InpainterError",
    "MarkPlan",
    "Segment",
    "make_inpainter",
    "margin_for",
]
