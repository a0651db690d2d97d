"""Reads of the task and executor tables (writes to the task table: `service.tasks.machine`)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from service.clock import aware, utcnow
from service.errors import BadUpload
from service.models import EXECUTORS, TASKS, Executor, TaskRow, task_from_row
from service.runtime.db import Database
from shared.contract import TaskStatus


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


async def updated_at_of(db: Database, ids: Iterable[str]) -> dict[str, datetime]:
    """When each of these tasks last changed; a task that is gone is left out."""
    stmt = select(TASKS.c.id, TASKS.c.updated_at).where(TASKS.c.id.in_(list(ids)))
    async with db.transaction() as conn:
        return {task_id: updated for task_id, updated in (await conn.execute(stmt)).all()}


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
