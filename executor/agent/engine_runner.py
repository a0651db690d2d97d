"""Runs the engine on one task in a worker thread and says how it ended, in words."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from executor.agent.settings import ExecutorSettings
from shared.contract import TaskOptions

if TYPE_CHECKING:
    from executor.engine.regions import UserAreas


@dataclass(frozen=True)
class Outcome:
    ok: bool
    cancelled: bool = False
    error: str | None = None
    retryable: bool = False
    executor_fault: bool = False  # this machine cannot (memory, disk): not the task's fault


def classify(exc: BaseException) -> Outcome:
    """The engine's errors say themselves whether another try may pass (bad input is final;
    running out of memory or disk may pass); arguments refused are final; anything unknown
    may pass."""
    from executor.engine.errors import engine_error

    # the engine raises its own family, but a raw error from around it reads the same way
    error = engine_error(exc)
    if error is not None:
        return Outcome(
            ok=False,
            error=str(error),
            retryable=error.retryable,
            executor_fault=error.of_this_machine,
        )
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ValueError):
        return Outcome(ok=False, error=text, retryable=False)
    return Outcome(ok=False, error=f"engine failed ({text})", retryable=True)


def engine_arguments(settings: ExecutorSettings, options: dict[str, Any]) -> dict[str, Any]:
    """The engine's arguments: the executor's settings, overridden by the task's options (the
    service checked them at submit; a ValueError here means it and this executor disagree)."""
    task = TaskOptions.parse(options)
    arguments: dict[str, Any] = {
        "inpainter": task.inpainter or settings.inpainter,
        "device": settings.device,
        "detector_weights": settings.detector_weights,
        "lama_model": settings.lama_model,
        "crf": settings.crf if task.crf is None else task.crf,
    }
    if task.user_areas or not task.detect:
        arguments["user"] = user_areas(task)
    return arguments


def user_areas(task: TaskOptions) -> UserAreas:
    """The task's regions and masks as the engine's UserAreas."""
    from executor.engine.regions import UserArea, UserAreas, decode_mask

    areas = [
        UserArea(box=r.box, start_s=r.start_s, end_s=r.end_s, label=f"options.regions[{i}]")
        for i, r in enumerate(task.regions)
    ]
    areas += [
        UserArea(
            mask=decode_mask(m.png(), f"options.masks[{i}]"),
            start_s=m.start_s,
            end_s=m.end_s,
            label=f"options.masks[{i}]",
        )
        for i, m in enumerate(task.masks)
    ]
    return UserAreas(tuple(areas), detect=task.detect)


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
            from executor.engine.cancel import Cancelled
            from executor.engine.pipeline import remove_watermark

            arguments = engine_arguments(self._settings, options)
            # a task that turned detection off never pays for loading the detector
            if self._detector is not None and options.get("detect", True):
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
