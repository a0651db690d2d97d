"""Writes log records to the database, a batch per statement."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert

from service.db import Database
from service.models import LogRecord, utcnow
from service.views import as_utc
from shared.contract import LogLevel


def record_row(
    *,
    level: str,
    message: str,
    ts: datetime | None = None,
    executor_id: str | None = None,
    task_id: str | None = None,
    client: str | None = None,
) -> dict[str, object]:
    try:
        parsed = LogLevel.parse(level)
    except ValueError:
        parsed = LogLevel.INFO
    return {
        "ts": as_utc(ts) if ts is not None else utcnow(),
        "level": parsed.value,
        "levelno": parsed.number,
        "executor_id": executor_id,
        "task_id": task_id,
        "client": client,
        "message": message,
    }


async def insert_records(db: Database, rows: Iterable[dict[str, object]]) -> int:
    batch = list(rows)
    if batch:
        async with db.transaction() as session:
            await session.execute(insert(LogRecord), batch)
    return len(batch)
