"""Ships the executor's loguru records to the service in batches, from a background thread.

The sink only appends to a bounded buffer, so logging never blocks the work; while the
service is unreachable records wait (the oldest are dropped past the bound) and go later.
A rotating local file keeps a second copy.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any

from loguru import logger

from executor.agent.client import AgentError, Rejected, ServiceClient
from executor.agent.retry import Backoff
from shared.contract import MAX_LOG_MESSAGE

BATCH = 500
BUFFER = 20_000
FLUSH_EVERY_S = 1.0
FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <7} | {message}{extra[_task]}"


def _tag_task(record: Any) -> None:
    task_id = record["extra"].get("task_id")
    record["extra"]["_task"] = f"  [task_id={task_id}]" if task_id else ""


def configure_local_logging(level: str, log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    logger.remove()
    logger.configure(patcher=_tag_task)
    # diagnose=False: a traceback must never print variable values (tokens)
    logger.add(sys.stderr, level=level.upper(), format=FORMAT, backtrace=False, diagnose=False)
    logger.add(
        log_dir / "et_sorawm.log",
        level=level.upper(),
        format=FORMAT,
        rotation="20 MB",
        retention=5,
        backtrace=False,
        diagnose=False,
    )


class LogShipper:
    def __init__(self, client: ServiceClient, *, level: str = "INFO") -> None:
        self._client = client
        self._level = level
        self._buffer: deque[dict[str, Any]] = deque(maxlen=BUFFER)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._sink_id: int | None = None

    def start(self) -> None:
        self._sink_id = logger.add(self._write, level=self._level.upper())
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop, after one last try to send what is left."""
        if self._sink_id is not None:
            logger.remove(self._sink_id)
            self._sink_id = None
        self._stop.set()
        self._thread.join(timeout)

    def _write(self, message: Any) -> None:
        record = message.record
        self._buffer.append(
            {
                "ts": record["time"].isoformat(),
                "level": record["level"].name,
                "message": clip(record["message"]),
                "task_id": record["extra"].get("task_id"),
            }
        )

    def _run(self) -> None:
        # short cap: lines kept while the service was down go soon after it is back
        backoff = Backoff(cap=5.0)
        wait = FLUSH_EVERY_S
        while not self._stop.wait(wait):
            wait = FLUSH_EVERY_S if self._flush_safely() else backoff.next_delay()
            if wait == FLUSH_EVERY_S:
                backoff.reset()
        self._flush_safely()

    def _flush_safely(self) -> bool:
        # the shipper must outlive anything one batch can do to it
        try:
            return self.flush()
        except Exception as exc:
            print(f"et_sorawm: log shipping failed, will retry: {exc!r}", file=sys.stderr)
            return False

    def flush(self) -> bool:
        """Send everything buffered; False when the service could not take it (kept)."""
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(BATCH, len(self._buffer)))]
            try:
                self._client.post_logs(batch)
            except Rejected as exc:
                # the service will never take this batch: sending it again would stop every
                # line after it; the local log file keeps a copy
                print(f"et_sorawm: {len(batch)} log lines refused, dropped: {exc}", file=sys.stderr)
            except AgentError:
                self._buffer.extendleft(reversed(batch))
                return False
        return True


def clip(message: str) -> str:
    """A line the service accepts: the head of one longer than it takes, and how much was cut."""
    if len(message) <= MAX_LOG_MESSAGE:
        return message
    note = f" … ({len(message) - MAX_LOG_MESSAGE + 100:,} characters cut)"
    return message[: MAX_LOG_MESSAGE - 100] + note
