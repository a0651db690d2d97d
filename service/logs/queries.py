"""Reads of the stored log records: filters, pages, the live tail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from service.clock import aware
from service.models import LOGS, LogRecord
from service.runtime.db import Database
from shared.contract import LogLevel


@dataclass(frozen=True)
class LogFilter:
    executor_id: str | None = None
    task_id: str | None = None
    level: LogLevel | None = None  # this level and above
    q: str | None = None  # text in the message, any case
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def apply(self, stmt: Any) -> Any:
        if self.executor_id is not None:
            stmt = stmt.where(LOGS.c.executor_id == self.executor_id)
        if self.task_id is not None:
            stmt = stmt.where(LOGS.c.task_id == self.task_id)
        if self.level is not None:
            stmt = stmt.where(LOGS.c.levelno >= self.level.number)
        if self.q:
            stmt = stmt.where(func.lower(LOGS.c.message).contains(self.q.lower(), autoescape=True))
        if self.since is not None:
            stmt = stmt.where(LOGS.c.ts >= self.since)
        if self.until is not None:
            stmt = stmt.where(LOGS.c.ts < self.until)
        return stmt

    def matches(self, record: LogRecord) -> bool:
        """What `apply` selects, for records already read (the live tails share one read)."""
        return (
            (self.executor_id is None or record.executor_id == self.executor_id)
            and (self.task_id is None or record.task_id == self.task_id)
            and (self.level is None or record.levelno >= self.level.number)
            and (not self.q or self.q.lower() in record.message.lower())
            and (self.since is None or aware(record.ts) >= self.since)
            and (self.until is None or aware(record.ts) < self.until)
        )


async def find_logs(
    db: Database, where: LogFilter, *, limit: int, before_id: int | None = None
) -> list[LogRecord]:
    """Newest first by arrival (id), so paging by `before_id` has no gaps or repeats."""
    stmt = where.apply(select(LOGS).order_by(LOGS.c.id.desc()).limit(limit))
    if before_id is not None:
        stmt = stmt.where(LOGS.c.id < before_id)
    return await _logs(db, stmt)


async def logs_after(
    db: Database, where: LogFilter, *, after_id: int, limit: int
) -> list[LogRecord]:
    """Records that arrived after `after_id`, oldest first: the live tail."""
    stmt = where.apply(select(LOGS).where(LOGS.c.id > after_id).order_by(LOGS.c.id).limit(limit))
    return await _logs(db, stmt)


async def _logs(db: Database, stmt: Any) -> list[LogRecord]:
    async with db.transaction() as conn:
        return [LogRecord.model_validate(dict(row._mapping)) for row in await conn.execute(stmt)]


async def last_log_id(db: Database) -> int:
    async with db.transaction() as conn:
        return int((await conn.execute(select(func.max(LOGS.c.id)))).scalar() or 0)
