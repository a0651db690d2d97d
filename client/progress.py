"""Progress on the terminal: a redrawn bar on a TTY, a line per 10 % elsewhere (logs, CI)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

WIDTH = 24


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


class ProgressBar:
    """Thread-safe: several uploads may report at once, each on its own bar line."""

    _lock = threading.Lock()

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        decile = int(fraction * 10)
        with self._lock:
            if self.tty:
                filled = int(fraction * WIDTH)
                bar = "#" * filled + "-" * (WIDTH - filled)
                self.stream.write(
                    f"\r{self.label} [{bar}] {fraction:4.0%} {_size(done)}/{_size(total)}"
                )
                if done >= total:
                    self.stream.write("\n")
                self.stream.flush()
            elif decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {fraction:.0%} of {_size(total)}\n")
                self.stream.flush()
