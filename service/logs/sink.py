"""The service's own loguru records, written to the log table beside the executors' lines.

The sink only appends to a bounded buffer (loguru may call it from any thread); a task in
the app's lifespan writes the buffer in batches, so logging never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from loguru import logger

from service.logs.store import insert_records, record_row
from service.runtime.db import Database

FLUSH_EVERY_S = 0.5
BUFFER_RECORDS = 10_000


class DatabaseLogSink:
    def __init__(self, db: Database, *, level: str = "INFO") -> None:
        self._db = db
        self._buffer: deque[dict[str, object]] = deque(maxlen=BUFFER_RECORDS)
        self._level = level
        self._sink_id: int | None = None
        self.dropped = 0

    def install(self) -> None:
        # format "{message}": loguru formats every line for every sink, and this one reads
        # only the record, so the default format's time and source rendering would be waste
        self._sink_id = logger.add(
            self._write, level=self._level, format="{message}", filter=_not_about_itself
        )

    def remove(self) -> None:
        if self._sink_id is not None:
            logger.remove(self._sink_id)
            self._sink_id = None

    def _write(self, message: Any) -> None:
        record = message.record
        extra = record["extra"]
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1  # the oldest line goes: a log flood must not eat memory
        self._buffer.append(
            record_row(
                level=record["level"].name,
                message=record["message"],
                ts=record["time"],
                executor_id=extra.get("executor_id"),
                task_id=extra.get("task_id"),
                source="service",
            )
        )

    async def flush(self) -> int:
        batch = []
        while self._buffer:
            batch.append(self._buffer.popleft())
        try:
            return await insert_records(self._db, batch)
        except Exception as exc:
            # told once per failed batch, on stderr and file only (never back into this sink)
            logger.bind(not_to_db=True).warning("could not store {} log lines: {}", len(batch), exc)
            return 0

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                await self.flush()
        finally:
            await self.flush()


def _not_about_itself(record: Any) -> bool:
    return not record["extra"].get("not_to_db")
