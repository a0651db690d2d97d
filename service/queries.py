"""Reads of the tables (writes to the task table live in `leases`)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlmodel import col

from service.db import Database
from service.errors import BadUpload, TaskNotFound
from service.models import Executor, LogRecord, Task, utcnow
from service.views import aware
from shared.contract import LogLevel, TaskStatus


async def get_task(db: Database, task_id: str, *, owner: str | None = None) -> Task:
    """The task; `owner` set hides other owners' tasks as if they did not exist."""
    async with db.transaction() as session:
        task = await session.get(Task, task_id)
    if task is None or (owner is not None and task.owner != owner):
        raise TaskNotFound()
    return task


def _encode_cursor(task: Task) -> str:
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
) -> tuple[list[Task], str | None]:
    """Newest first; the cursor is the last row's (created_at, id), so pages never overlap."""
    stmt = select(Task).order_by(col(Task.created_at).desc(), col(Task.id).desc()).limit(limit + 1)
    if owner is not None:
        stmt = stmt.where(col(Task.owner) == owner)
    if status is not None:
        stmt = stmt.where(col(Task.status) == status.value)
    if cursor:
        created, task_id = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                col(Task.created_at) < created,
                and_(col(Task.created_at) == created, col(Task.id) < task_id),
            )
        )
    async with db.transaction() as session:
        rows = list((await session.scalars(stmt)).all())
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def count_by_status(db: Database) -> dict[str, int]:
    stmt = select(col(Task.status), func.count()).group_by(col(Task.status))
    async with db.transaction() as session:
        rows = (await session.execute(stmt)).all()
    counts = {status.value: 0 for status in TaskStatus}
    counts.update({status: count for status, count in rows})
    return counts


async def count_queued(db: Database) -> int:
    stmt = select(func.count()).select_from(Task).where(col(Task.status) == TaskStatus.QUEUED.value)
    async with db.transaction() as session:
        return int((await session.execute(stmt)).scalar_one())


async def list_executors(db: Database) -> list[tuple[Executor, float | None]]:
    """Every executor known, with the progress of the task it holds."""
    stmt = (
        select(Executor, col(Task.progress))
        .outerjoin(
            Task,
            and_(col(Task.id) == col(Executor.current_task_id), col(Task.status) == "PROCESSING"),
        )
        .order_by(col(Executor.id))
    )
    async with db.transaction() as session:
        rows = (await session.execute(stmt)).all()
    return [(executor, progress) for executor, progress in rows]


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
            stmt = stmt.where(col(LogRecord.executor_id) == self.executor_id)
        if self.task_id is not None:
            stmt = stmt.where(col(LogRecord.task_id) == self.task_id)
        if self.level is not None:
            stmt = stmt.where(col(LogRecord.levelno) >= self.level.number)
        if self.q:
            stmt = stmt.where(
                func.lower(col(LogRecord.message)).contains(self.q.lower(), autoescape=True)
            )
        if self.since is not None:
            stmt = stmt.where(col(LogRecord.ts) >= self.since)
        if self.until is not None:
            stmt = stmt.where(col(LogRecord.ts) < self.until)
        return stmt


async def find_logs(
    db: Database, where: LogFilter, *, limit: int, before_id: int | None = None
) -> list[LogRecord]:
    """Newest first by arrival (id), so paging by `before_id` has no gaps or repeats."""
    stmt = where.apply(select(LogRecord).order_by(col(LogRecord.id).desc()).limit(limit))
    if before_id is not None:
        stmt = stmt.where(col(LogRecord.id) < before_id)
    async with db.transaction() as session:
        return list((await session.scalars(stmt)).all())


async def logs_after(
    db: Database, where: LogFilter, *, after_id: int, limit: int
) -> list[LogRecord]:
    """Records that arrived after `after_id`, oldest first: the live tail."""
    stmt = where.apply(
        select(LogRecord)
        .where(col(LogRecord.id) > after_id)
        .order_by(col(LogRecord.id))
        .limit(limit)
    )
    async with db.transaction() as session:
        return list((await session.scalars(stmt)).all())


async def last_log_id(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.max(col(LogRecord.id))))).scalar() or 0)
