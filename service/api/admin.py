"""The admin's JSON: logs with filters and paging, the fleet of executors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from service import queries
from service.auth import AdminDep
from service.errors import BadUpload
from service.state import StateDep
from service.views import as_utc, executor_public, log_public
from shared.contract import ExecutorPublic, LogLevel, LogPage, Routes

router = APIRouter(tags=["admin"])


def _before_id(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise BadUpload("the cursor is not one this service handed out")
    return int(cursor)


@router.get(Routes.ADMIN_LOGS, response_model=LogPage)
async def admin_logs(
    state: StateDep,
    _: AdminDep,
    executor_id: str | None = None,
    task_id: str | None = None,
    level: Annotated[LogLevel | None, Query(description="this level and above")] = None,
    q: Annotated[str | None, Query(max_length=500, description="text in the message")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> LogPage:
    """Log records, newest first; pass `next_cursor` back as `cursor` for older ones."""
    records = await queries.find_logs(
        state.db,
        executor_id=executor_id,
        task_id=task_id,
        level=level,
        q=q,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
        limit=limit,
        before_id=_before_id(cursor),
    )
    next_cursor = str(records[-1].id) if len(records) == limit else None
    return LogPage(items=[log_public(record) for record in records], next_cursor=next_cursor)


@router.get(Routes.EXECUTORS, response_model=list[ExecutorPublic])
async def executors(state: StateDep, _: AdminDep) -> list[ExecutorPublic]:
    """Every executor: online or not, what it is doing, what it can do, what it has done."""
    offline_after = state.settings.executor_offline_after_s
    return [
        executor_public(
            executor,
            online=queries.is_online(executor, offline_after_s=offline_after),
            progress=progress,
        )
        for executor, progress in await queries.list_executors(state.db)
    ]
