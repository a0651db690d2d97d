"""Runs the engine on one task in a worker thread and says how it ended, in words."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from executor.agent.settings import ExecutorSettings

# task options a client may set; everything else comes from the executor's settings
TASK_OPTIONS = {"inpainter": str, "crf": int}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    cancelled: bool = False
    error: str | None = None
    retryable: bool = False


def classify(exc: BaseException) -> Outcome:
    """Bad input is final; running out of memory or disk, or anything unknown, may pass."""
    from executor.engine.errors import VideoError

    if isinstance(exc, VideoError):
        return Outcome(ok=False, error=str(exc), retryable=False)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return Outcome(ok=False, error=f"out of memory on this executor ({text})", retryable=True)
    if isinstance(exc, OSError):
        return Outcome(ok=False, error=f"executor file error ({text})", retryable=True)
    if isinstance(exc, ValueError):
        return Outcome(ok=False, error=text, retryable=False)
    return Outcome(ok=False, error=f"engine failed ({text})", retryable=True)


def engine_arguments(settings: ExecutorSettings, options: dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "inpainter": settings.inpainter,
        "device": settings.device,
        "detector_weights": settings.detector_weights,
        "lama_model": settings.lama_model,
        "crf": settings.crf,
    }
    for name, kind in TASK_OPTIONS.items():
        if name in options:
            try:
                arguments[name] = kind(options[name])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"task option {name}={options[name]!r} is not valid") from exc
    return arguments


class WarmDetector:
    """The watermark detector, loaded on the first task and kept for the next ones (loading
    the weights and importing torch take seconds; a task of a short clip is not much more).
    Thread-safe; a detector that cannot load is not kept, so the task's own run reports why."""

    def __init__(self, settings: ExecutorSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._detector: Any = None

    def get(self) -> Any:
        with self._lock:
            if self._detector is None:
                from executor.engine.pipeline import DetectorUnavailable, load_detector

                try:
                    self._detector = load_detector(
                        self._settings.detector_weights, self._settings.device
                    )
                except (DetectorUnavailable, ValueError) as exc:
                    logger.warning("detector not loaded: {}", exc)
            return self._detector


class EngineRun:
    """The engine in its own thread, so the agent stays free to watch signals and the lease."""

    def __init__(
        self,
        settings: ExecutorSettings,
        *,
        task_id: str,
        src: Path,
        dst: Path,
        options: dict[str, Any],
        progress: Callable[[float, str], None],
        should_cancel: Callable[[], bool],
        detector: WarmDetector | None = None,
    ) -> None:
        self._settings = settings
        self._detector = detector
        self._task_id = task_id
        self._args = (src, dst, options, progress, should_cancel)
        self.outcome: Outcome | None = None
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)

    def start(self) -> EngineRun:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """True once the engine has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        src, dst, options, progress, should_cancel = self._args
        # the engine's own log lines carry the task id too, so the admin page can filter them
        with logger.contextualize(task_id=self._task_id):
            self._run_engine(src, dst, options, progress, should_cancel)

    def _run_engine(
        self,
        src: Path,
        dst: Path,
        options: dict[str, Any],
        progress: Callable[[float, str], None],
        should_cancel: Callable[[], bool],
    ) -> None:
        try:
            from executor.engine.pipeline import Cancelled, remove_watermark

            arguments = engine_arguments(self._settings, options)
            if self._detector is not None:
                arguments["detector"] = self._detector.get()
            try:
                remove_watermark(
                    src, dst, **arguments, progress=progress, should_cancel=should_cancel
                )
                self.outcome = Outcome(ok=True)
            except Cancelled:
                self.outcome = Outcome(ok=False, cancelled=True)
        except BaseException as exc:  # the thread must always leave an outcome
            self.outcome = classify(exc)
