"""Writes log records to the database, a batch per statement."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, insert

from service.clock import as_utc, utcnow
from service.models import LOGS
from service.runtime.db import Database
from shared.contract import LogLevel


def record_row(
    *,
    level: str,
    message: str,
    ts: datetime | None = None,
    executor_id: str | None = None,
    task_id: str | None = None,
    client: str | None = None,
    source: str = "executor",
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
        "source": source,
        "message": message,
    }


async def delete_before(db: Database, cutoff: datetime) -> int:
    """Log retention: records older than `cutoff` go."""
    async with db.transaction() as conn:
        result = await conn.execute(delete(LOGS).where(LOGS.c.ts < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def insert_records(db: Database, rows: Iterable[dict[str, object]]) -> int:
    batch = list(rows)
    if not batch:
        return 0
    if db.pool is not None:
        # PostgreSQL: COPY costs about half the CPU per row of an executemany INSERT
        columns = list(batch[0])
        await db.pool.copy_records_to_table(
            LOGS.name, records=[tuple(row[c] for c in columns) for row in batch], columns=columns
        )
        return len(batch)
    async with db.transaction() as conn:
        await conn.execute(insert(LOGS), batch)
    return len(batch)
