"""Log ingest: batches from our executors, single lines from WeFastAPI-style ones."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.api.answers import answers
from service.api.auth import ExecutorDep, peer_address
from service.api.guarded_route import GuardedRoute
from service.logs.store import insert_records, record_row
from service.runtime.settings import LOOPBACK_OWNER
from service.state import StateDep
from shared.contract import (
    MAX_LOG_BATCH_BYTES,
    MAX_LOG_LINE_BODY_BYTES,
    LogAccepted,
    LogBatch,
    Routes,
    WeFastApiLog,
)

router = APIRouter(tags=["logs"], responses=answers(400, 401, 403))
batches = APIRouter(route_class=GuardedRoute.with_limit(MAX_LOG_BATCH_BYTES))
lines = APIRouter(route_class=GuardedRoute.with_limit(MAX_LOG_LINE_BODY_BYTES))
# a body that does not parse (400), arrives too slowly (408), is too large (413)
BODY_ANSWERS = answers(400, 408, 413, 422)


@batches.post(Routes.LOGS, status_code=202, response_model=LogAccepted, responses=BODY_ANSWERS)
async def post_logs(
    body: LogBatch, request: Request, state: StateDep, _: ExecutorDep
) -> LogAccepted:
    """A batch of an executor's log records."""
    client = peer_address(request, state.settings)
    rows = (
        record_row(
            level=record.level,
            message=record.message,
            ts=record.ts,
            executor_id=body.executor_id,
            task_id=record.task_id,
            client=client,
        )
        for record in body.records
    )
    return LogAccepted(accepted=await insert_records(state.db, rows))


@lines.post(Routes.WEFASTAPI_LOG, response_model=LogAccepted, responses=BODY_ANSWERS)
async def post_wefastapi_log(
    body: WeFastApiLog, request: Request, state: StateDep, principal: ExecutorDep
) -> LogAccepted:
    """WeFastAPI's one-line form: `{level: debug|info|warning|error, message}`."""
    row = record_row(
        level=body.level,
        message=body.message,
        executor_id=principal.name if principal.name != LOOPBACK_OWNER else None,
        client=peer_address(request, state.settings),
        source="wefastapi",
    )
    return LogAccepted(accepted=await insert_records(state.db, [row]))


# each with its own cap on the body
router.include_router(batches)
router.include_router(lines)
