"""Reads of the tables (writes to the task table live in `leases`)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from service import leases_pg
from service.db import Database
from service.errors import BadUpload, TaskNotFound
from service.models import (
    EXECUTORS,
    LOGS,
    TASKS,
    Executor,
    LogRecord,
    TaskRow,
    task_from_row,
    utcnow,
)
from service.views import aware
from shared.contract import LogLevel, TaskStatus


async def find_task(db: Database, task_id: str) -> TaskRow | None:
    if db.pool is not None:
        return await leases_pg.get(db.pool, task_id)
    async with db.transaction() as conn:
        row = (await conn.execute(select(TASKS).where(TASKS.c.id == task_id))).first()
    return task_from_row(row) if row is not None else None


async def get_task(db: Database, task_id: str, *, owner: str | None = None) -> TaskRow:
    """The task; `owner` set hides other owners' tasks as if they did not exist."""
    task = await find_task(db, task_id)
    if task is None or (owner is not None and task.owner != owner):
        raise TaskNotFound()
    return task


def _encode_cursor(task: TaskRow) -> str:
    raw = f"{task.created_at.isoformat()}|{task.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, task_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), task_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadUpload("the cursor is not one this service handed out") from exc


async def list_tasks(
    db: Database,
    *,
    owner: str | None,
    status: TaskStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[TaskRow], str | None]:
    """Newest first; the cursor is the last row's (created_at, id), so pages never overlap."""
    stmt = select(TASKS).order_by(TASKS.c.created_at.desc(), TASKS.c.id.desc()).limit(limit + 1)
    if owner is not None:
        stmt = stmt.where(TASKS.c.owner == owner)
    if status is not None:
        stmt = stmt.where(TASKS.c.status == status.value)
    if cursor:
        created, task_id = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                TASKS.c.created_at < created,
                and_(TASKS.c.created_at == created, TASKS.c.id < task_id),
            )
        )
    async with db.transaction() as conn:
        rows = [task_from_row(row) for row in await conn.execute(stmt)]
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def count_by_status(db: Database) -> dict[str, int]:
    stmt = select(TASKS.c.status, func.count()).group_by(TASKS.c.status)
    async with db.transaction() as conn:
        rows = (await conn.execute(stmt)).all()
    counts = {status.value: 0 for status in TaskStatus}
    counts.update({status: count for status, count in rows})
    return counts


async def count_queued(db: Database) -> int:
    stmt = select(func.count()).select_from(TASKS).where(TASKS.c.status == TaskStatus.QUEUED.value)
    async with db.transaction() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def list_executors(db: Database) -> list[tuple[Executor, float | None]]:
    """Every executor known, with the progress of the task it holds."""
    stmt = (
        select(EXECUTORS, TASKS.c.progress.label("task_progress"))
        .select_from(
            EXECUTORS.outerjoin(
                TASKS,
                and_(
                    TASKS.c.id == EXECUTORS.c.current_task_id,
                    TASKS.c.status == TaskStatus.PROCESSING.value,
                ),
            )
        )
        .order_by(EXECUTORS.c.id)
    )
    async with db.transaction() as conn:
        rows = (await conn.execute(stmt)).all()
    result = []
    for row in rows:
        fields = dict(row._mapping)
        progress = fields.pop("task_progress")
        result.append((Executor.model_validate(fields), progress))
    return result


def is_online(executor: Executor, *, offline_after_s: float, now: datetime | None = None) -> bool:
    return (now or utcnow()) - aware(executor.last_seen) <= timedelta(seconds=offline_after_s)


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
