"""Source crops for the temporal inpainter.

Two ways to get them, chosen per video by the inpainter:
- from the last pass's own decode (`take` each frame as it is decoded, `end` after the last):
  no decode of its own, but the decode must run ahead of the repaint, holding the frames in
  between, until each frame's sources have gone by; used when that look-ahead fits a budget;
- from a decode of its own on a worker thread beside the last pass (`decode=True`): the
  repaint of frame t waits only until the gatherer has gone past t's last source frame, and
  the gatherer, which only decodes, soon runs far ahead of a repaint that waits on the encoder.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from executor.engine.frames import Box, Frame
from executor.engine.reader import VideoReader

Rect = tuple[int, int, int, int]


class SourceGatherer:
    """Keeps `crops[u] = (aligned rect, float32 RGB)` for every requested frame u."""

    def __init__(self, source: Path, requests: dict[int, Rect], *, decode: bool = True) -> None:
        self.crops: dict[int, tuple[Box, np.ndarray]] = {}
        self.decodes = decode and bool(requests)
        self._source = source
        self._requests = requests
        self._last = max(requests, default=-1)
        self._through = -1  # every frame up to this index has gone by
        self._finished = not requests
        self._stopping = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="gather", daemon=True)
        if self.decodes:
            self._thread.start()

    def take(self, frame: Frame) -> None:
        """Keep the crop requested from this frame (frames come in order, unrepainted)."""
        rect = self._requests.get(frame.index)
        if rect is not None:
            box, pixels = frame.read_region(rect)
            # float32 once here, not per use: each crop serves many frames.
            self.crops[frame.index] = box, pixels.astype(np.float32)
        with self._changed:
            self._through = frame.index
            self._changed.notify_all()

    def wait_for(self, index: int) -> None:
        """Block until frame `index` has been gathered (or the source ended); re-raises the
        gatherer's error."""
        with self._changed:
            while self._through < index and not self._finished:
                self._changed.wait(0.5)
        if self._error is not None:
            raise self._error

    def end(self) -> None:
        """No more frames will be taken (the source ended)."""
        with self._changed:
            self._finished = True
            self._changed.notify_all()

    def close(self) -> None:
        self._stopping = True
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            with VideoReader(self._source, copy=False) as reader:
                for frame in reader:
                    self.take(frame)
                    if frame.index >= self._last or self._stopping:
                        break
        except BaseException as error:  # handed to the repaint that waits for it
            self._error = error
        finally:
            self.end()
