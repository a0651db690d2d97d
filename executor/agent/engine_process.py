"""The engine in a child process the agent can kill: a hung engine (no progress for
`--stall-timeout` seconds), a crash or the kernel's out-of-memory killer ends the task's try,
never the agent. The child lives on between tasks so the detector stays loaded; it is started
again after it was killed or died.

Parent and child speak over one pipe: the parent sends a job (or None: exit); the child
answers `("progress", percent, stage)`, `("log", level, message)` and at last
`("done", outcome)`. Cancelling sets a shared event the engine checks between frames; a child
that does not stop within `CANCEL_GRACE_S` is killed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from loguru import logger

from executor.agent.engine_runner import EngineRun, Outcome, WarmDetector
from executor.agent.settings import ExecutorSettings

CANCEL_GRACE_S = 10.0
# starting the child and loading the detector is one long step that cannot report progress:
# it gets this long (or the stall timeout, if longer) before the engine's first progress
LOADING_S = 180.0
LOADING = "loading"
_SPAWN = multiprocessing.get_context("spawn")  # no fork: torch and threads do not survive it


class EngineProcess:
    """One engine child at a time; `run` a task in it."""

    def __init__(self, settings: ExecutorSettings) -> None:
        self._settings = settings
        self._process: Any = None
        self._conn: Connection | None = None
        self._cancel: Any = None

    def close(self) -> None:
        if self._process is not None and self._process.is_alive():
            assert self._conn is not None
            with contextlib.suppress(OSError):
                self._conn.send(None)
                self._process.join(5)
        self._kill()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _start(self) -> None:
        parent, child = _SPAWN.Pipe()
        self._cancel = _SPAWN.Event()
        self._process = _SPAWN.Process(
            target=_serve,
            args=(child, self._settings.model_dump(mode="json"), self._cancel),
            name="engine",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = self._cancel = None

    def run(
        self,
        *,
        task_id: str,
        src: Path,
        dst: Path,
        options: dict[str, Any],
        progress: Callable[[float, str], None],
        should_cancel: Callable[[], bool],
        watch_every_s: float = 0.2,
    ) -> Outcome:
        """The task's outcome; the engine is killed when it makes no progress for the stall
        timeout, or does not stop within CANCEL_GRACE_S of a cancel."""
        if self._process is None or not self._process.is_alive():
            self._kill()
            self._start()
        assert self._conn is not None and self._cancel is not None
        self._cancel.clear()
        self._conn.send({"task_id": task_id, "src": str(src), "dst": str(dst), "options": options})
        stall_s = self._settings.stall_timeout
        moved = time.monotonic()
        stage = LOADING
        cancelled_at: float | None = None
        log = logger.bind(task_id=task_id)
        while True:
            if should_cancel() and cancelled_at is None:
                cancelled_at = time.monotonic()
                self._cancel.set()
            try:
                ready = self._conn.poll(watch_every_s)
                message = self._conn.recv() if ready else None
            except (EOFError, OSError):
                return self._died()
            now = time.monotonic()
            if message is not None:
                kind = message[0]
                if kind == "done":
                    return Outcome(**message[1])
                if kind == "progress":
                    moved, stage = now, message[2]
                    progress(message[1], stage)
                elif kind == "log":
                    log.log(message[1], "{}", message[2])
            elif not self._process.is_alive():
                return self._died()
            # judged on every turn: a stream of log lines is no progress
            if cancelled_at is not None and now - cancelled_at > CANCEL_GRACE_S:
                log.warning("the engine did not stop within {:.0f} s: killed", CANCEL_GRACE_S)
                self._kill()
                return Outcome(ok=False, cancelled=True)
            if now - moved > (max(stall_s, LOADING_S) if stage == LOADING else stall_s):
                log.error("the engine made no progress for {:.0f} s: killed", stall_s)
                self._kill()
                return Outcome(
                    ok=False,
                    error=f"the engine made no progress for {stall_s:.0f} s and was killed",
                    retryable=True,
                )

    def _died(self) -> Outcome:
        code = None
        if self._process is not None:
            self._process.join(5)  # the pipe closes a moment before the process is reaped
            code = self._process.exitcode
        self._kill()
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        logger.error("the engine process died ({})", how)
        # a crash, the out-of-memory killer: another try, here or elsewhere, may pass
        return Outcome(ok=False, error=f"the engine process died ({how})", retryable=True)


# ---------------------------------------------------------------- the child


class _Outbox:
    """The child's end of the pipe, safe from the engine's thread and the log sink alike."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, *message: Any) -> None:
        # the parent gone: the child ends at its next recv
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._conn.send(message)


def _serve(conn: Connection, settings_json: dict[str, Any], cancel: Any) -> None:
    """The child's loop: one job at a time until told to exit (or the parent is gone)."""
    settings = ExecutorSettings.model_validate(settings_json)
    outbox = _Outbox(conn)
    logger.remove()
    # the child's log lines go to the parent, which files and ships them with its own
    logger.add(
        lambda line: outbox.send("log", line.record["level"].name, line.record["message"]),
        level=settings.log_level.upper(),
        format="{message}",
    )
    detector = WarmDetector(settings)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        outbox.send("progress", 0.0, LOADING)
        engine = EngineRun(
            settings,
            task_id=job["task_id"],
            src=Path(job["src"]),
            dst=Path(job["dst"]),
            options=job["options"],
            progress=lambda percent, stage: outbox.send("progress", percent, stage),
            should_cancel=cancel.is_set,
            detector=detector,
        ).start()
        while not engine.wait(1.0):
            pass
        assert engine.outcome is not None
        outbox.send("done", asdict(engine.outcome))
