"""The admin's JSON: logs with filters, paging and a live tail; the fleet of executors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from service.api.answers import answers
from service.api.auth import AdminDep
from service.api.guarded_route import GuardedRoute
from service.clock import as_utc
from service.errors import BadUpload
from service.logs import queries as log_queries
from service.logs.queries import LogFilter
from service.logs.views import log_public
from service.runtime.streams import LOG_BATCH, released_at_end, wait_for
from service.state import AppState, StateDep
from service.tasks import queries
from service.tasks.views import executor_public
from shared.contract import ExecutorPublic, IsoTime, LogLevel, LogPage, Routes

router = APIRouter(route_class=GuardedRoute, tags=["admin"], responses=answers(400, 401, 403))

TAIL_KEEPALIVE_S = 15.0
# a log record's id, as cursors and `after` carry it
RECORD_ID_PATTERN = r"^[0-9]{1,18}$"
_RECORD_ID = re.compile(RECORD_ID_PATTERN)


async def log_filter(
    executor_id: str | None = None,
    task_id: str | None = None,
    level: Annotated[LogLevel | None, Query(description="this level and above")] = None,
    q: Annotated[str | None, Query(max_length=500, description="text in the message")] = None,
    since: Annotated[IsoTime | None, Query(description="from this time (inclusive)")] = None,
    until: Annotated[IsoTime | None, Query(description="before this time")] = None,
) -> LogFilter:
    return LogFilter(
        executor_id=executor_id or None,
        task_id=task_id or None,
        level=level,
        q=q or None,
        since=as_utc(since) if since else None,
        until=as_utc(until) if until else None,
    )


LogFilterDep = Annotated[LogFilter, Depends(log_filter)]


def _record_id(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    # ASCII digits that fit a BIGINT: `isdigit` alone lets '²' (int() fails) and 10**30
    # (the database refuses) through, each a 500
    if not _RECORD_ID.match(cursor):
        raise BadUpload("the cursor is not one this service handed out")
    return int(cursor)


@router.get(Routes.ADMIN_LOGS, response_model=LogPage, responses=answers(422))
async def admin_logs(
    state: StateDep,
    _: AdminDep,
    where: LogFilterDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern=RECORD_ID_PATTERN)] = None,
) -> LogPage:
    """Log records, newest first; pass `next_cursor` back as `cursor` for older ones."""
    records = await log_queries.find_logs(
        state.db, where, limit=limit, before_id=_record_id(cursor)
    )
    next_cursor = str(records[-1].id) if len(records) == limit else None
    return LogPage(items=[log_public(record) for record in records], next_cursor=next_cursor)


@router.get(
    Routes.ADMIN_LOGS_STREAM,
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **answers(422, 429, 503)},
)
async def admin_logs_stream(
    request: Request,
    state: StateDep,
    principal: AdminDep,
    where: LogFilterDep,
    after: Annotated[
        str | None, Query(pattern=RECORD_ID_PATTERN, description="start after this record id")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Live tail as server-sent events (`event: log`, `id:` the record id), same filters.
    Starts with records arriving from now on, or after `after` / `Last-Event-ID`. Capped as
    the task events are (429 / 503)."""
    start = _record_id(last_event_id) or _record_id(after)
    if start is None:
        start = await log_queries.last_log_id(state.db)
    slot = state.streams.take(principal.name)
    return StreamingResponse(
        released_at_end(_tail(request, state, where, start), slot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(slot.release),  # also when the stream never started
    )


async def _tail(
    request: Request, state: AppState, where: LogFilter, after_id: int
) -> AsyncIterator[str]:
    # woken when the process's watcher read new records (every replica's): it filters those;
    # it reads the table itself only to catch up to the watcher
    yield ": tail started\n\n"
    with state.changes.watch_logs() as arrived:
        while not await request.is_disconnected():
            batch = state.changes.log_batch
            if batch is not None and after_id >= batch.after:
                records = [r for r in batch.records if r.id and r.id > after_id]
                records = [r for r in records if where.matches(r)]
                covered: int | None = batch.upto
            else:
                records = await log_queries.logs_after(
                    state.db, where, after_id=after_id, limit=LOG_BATCH
                )
                # a short read saw every record the watcher had read before it
                covered = batch.upto if batch is not None and len(records) < LOG_BATCH else None
            for record in records:
                assert record.id is not None
                after_id = record.id
                data = log_public(record).model_dump_json()
                yield f"id: {record.id}\nevent: log\ndata: {data}\n\n"
            if covered is not None:
                after_id = max(after_id, covered)
            elif len(records) == LOG_BATCH:
                continue
            while not await wait_for(arrived, TAIL_KEEPALIVE_S):
                yield ": keep-alive\n\n"


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
