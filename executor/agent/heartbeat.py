"""The heartbeat: from its own thread, extends the lease and reports progress while the task
is worked on, every interval and at once when the stage changes (so people watching see
"detect", "inpaint", "encode" as they happen). When the service answers `cancel: true`, or 409
(the lease is gone), it sets `stop` so the work ends at its next check."""

from __future__ import annotations

import threading
from types import TracebackType

from loguru import logger

from executor.agent.client import LeaseLost, Rejected, ServiceClient, Unreachable

RETRY_FIRST_S = 1.0


class Heartbeat:
    def __init__(
        self, client: ServiceClient, *, task_id: str, lease_token: str, interval: float
    ) -> None:
        self._client = client
        self.task_id = task_id
        self._token = lease_token
        self._interval = interval
        self._done = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._progress = 0.0
        self._stage = "claimed"
        self._message: str | None = None
        self.stop = threading.Event()
        self.reason: str | None = None
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def report(self, progress: float, stage: str, message: str | None = None) -> None:
        with self._lock:
            changed = stage != self._stage
            self._progress = max(0.0, min(100.0, progress))
            self._stage = stage
            self._message = message
        if changed:
            self._wake.set()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        wait = self._interval
        log = logger.bind(task_id=self.task_id)
        while True:
            self._wake.wait(wait)
            self._wake.clear()
            if self._done.is_set():
                return
            try:
                answer = self.beat()
            except Unreachable as exc:
                # the lease outlives a few lost beats: try again sooner than usual
                wait = min(self._interval, RETRY_FIRST_S if wait >= self._interval else wait * 2)
                log.warning("heartbeat did not reach the service ({}); retrying", exc)
                continue
            except LeaseLost:
                self._halt("the lease was lost (expired or taken over)")
                return
            except Rejected as exc:
                log.error("heartbeat refused: {}", exc)
                wait = self._interval
                continue
            except Exception as exc:  # a beat must never end the beating
                log.error("heartbeat failed: {!r}; beating on", exc)
                wait = self._interval
                continue
            wait = self._interval
            if answer:
                self._halt("the task was cancelled")
                return

    def beat(self) -> bool:
        """One heartbeat now; True when the service asks us to stop."""
        with self._lock:
            progress, stage, message = self._progress, self._stage, self._message
        answer = self._client.heartbeat(
            self.task_id, self._token, progress=progress, stage=stage, message=message
        )
        return answer.cancel

    def _halt(self, reason: str) -> None:
        self.reason = reason
        logger.bind(task_id=self.task_id).warning("stopping work: {}", reason)
        self.stop.set()
