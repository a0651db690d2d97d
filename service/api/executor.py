"""The executor's API: claim (long poll), input, heartbeat, result, fail. Every write is fenced
by the lease token: a stale one gets 409 and changes nothing."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from service.api.answers import FILE_ANSWERS, answers
from service.api.auth import ExecutorDep
from service.api.guarded_route import GuardedRoute
from service.clock import aware
from service.errors import HashMismatch, LeaseLost
from service.files.inflow import received
from service.files.ranges import file_response
from service.models import TaskRow
from service.state import AppState, StateDep
from service.tasks.machine import ensure_leased
from shared.contract import (
    ClaimedInput,
    ClaimRequest,
    ClaimResponse,
    FailRequest,
    FailResponse,
    FileInfo,
    Headers,
    HeartbeatRequest,
    HeartbeatResponse,
    ResultAck,
    Routes,
    TaskStatus,
)

router = APIRouter(route_class=GuardedRoute, tags=["executor"], responses=answers(400, 401, 403))

_LEASE_ERRORS = answers(404, 409, 422)
# a JSON body that does not parse is a 400
# a body that does not parse (400), arrives too slowly (408), is too large (413)
_BODY_ERRORS = answers(400, 408, 413, 422)

LeaseHeader = Annotated[str | None, Header(alias=Headers.LEASE_TOKEN)]


@router.post(
    Routes.CLAIM,
    response_model=ClaimResponse,
    responses={204: {"description": "no work"}, **_BODY_ERRORS},
)
async def claim(
    body: ClaimRequest, request: Request, state: StateDep, _: ExecutorDep
) -> ClaimResponse | Response:
    """Long poll up to `wait_s` for the oldest queued task; 204 when none came."""
    capabilities = body.capabilities.model_dump(exclude_none=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + body.wait_s
    woken = False
    while True:
        if woken and await request.is_disconnected():
            # nobody would read a task: pass the wake-up on to a poller still listening
            await state.signal.notify(1)
            return Response(status_code=204)
        task = await state.tasks.claim_next(
            executor_id=body.executor_id,
            capabilities=capabilities,
            lease_s=state.settings.lease_seconds,
            inpainters=body.capabilities.runs(),
        )
        if task is not None:
            if body.wait_s > 0 and await request.is_disconnected():
                assert task.lease_token is not None
                await state.tasks.hand_back(task_id=task.id, lease_token=task.lease_token)
                await state.signal.queued(1)
                return Response(status_code=204)
            state.metrics.claims.inc()
            return _claim_response(task, state)
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        woken = await state.signal.wait(remaining)
    if body.wait_s > 0:
        await state.tasks.seen_idle(executor_id=body.executor_id, capabilities=capabilities)
    return Response(status_code=204)


def _claim_response(task: TaskRow, state: AppState) -> ClaimResponse:
    assert task.lease_token and task.lease_expires_at and task.input_size and task.input_sha256
    return ClaimResponse(
        task_id=task.id,
        lease_token=task.lease_token,
        lease_expires_at=aware(task.lease_expires_at),
        heartbeat_s=state.settings.heartbeat_s,
        attempt=task.attempts,
        input=ClaimedInput(
            url=Routes.TASK_INPUT.format(task_id=task.id),
            size=task.input_size,
            sha256=task.input_sha256,
            filename=task.input_filename or "video",
        ),
        options=task.options or {},
    )


@router.get(
    Routes.TASK_INPUT,
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **FILE_ANSWERS, **_LEASE_ERRORS},
)
async def download_input(
    task_id: str, request: Request, state: StateDep, _: ExecutorDep, lease_token: LeaseHeader = None
) -> Response:
    """The task's input for the executor holding its lease; `Range` resumes a download."""
    task = await state.tasks.leased_task(task_id=task_id, lease_token=lease_token)
    assert task.input_path and task.input_sha256
    return file_response(
        request,
        state.store,
        key=task.input_path,
        sha256=task.input_sha256,
        media_type="application/octet-stream",
    )


@router.post(
    Routes.HEARTBEAT, response_model=HeartbeatResponse, responses={**_BODY_ERRORS, **_LEASE_ERRORS}
)
async def heartbeat(
    task_id: str, body: HeartbeatRequest, state: StateDep, _: ExecutorDep
) -> HeartbeatResponse:
    """Extends the lease and reports progress; `cancel: true` tells the executor to stop."""
    renewal = await state.tasks.renew_lease(
        task_id=task_id,
        lease_token=body.lease_token,
        lease_s=state.settings.lease_seconds,
        progress=body.progress,
        stage=body.stage,
        message=body.message,
    )
    return HeartbeatResponse(
        lease_expires_at=aware(renewal.lease_expires_at), cancel=renewal.cancel
    )


@router.put(
    Routes.TASK_RESULT,
    response_model=ResultAck,
    responses={
        **_LEASE_ERRORS,
        **answers(408, 507),
    },
    openapi_extra={
        "requestBody": {
            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}
        }
    },
)
async def upload_result(
    task_id: str,
    request: Request,
    state: StateDep,
    _: ExecutorDep,
    lease_token: LeaseHeader = None,
    content_sha256: Annotated[str | None, Header(alias=Headers.CONTENT_SHA256)] = None,
) -> ResultAck:
    """The cleaned video as the raw body. Hash checked, then FINISHED exactly once; the same
    upload again is acknowledged without change."""
    expected = (content_sha256 or "").strip().lower()
    if len(expected) != 64:
        raise HashMismatch(f"the {Headers.CONTENT_SHA256} header must be the body's hex sha256")
    task = await state.tasks.get_task(task_id)
    if _already_finished_by(task, lease_token, expected):
        return _ack(task)
    ensure_leased(task, lease_token)
    assert lease_token is not None
    # every upload writes a file of its own: neither a zombie's late upload nor this
    # executor's own overlapping retry can replace or remove the result that finished the task
    name = f"result-{lease_token[:12].replace('_', '-')}-{secrets.token_hex(4)}.mp4"
    writer = state.store.writer(task_id, name)
    try:
        async for chunk in received(request, idle_s=state.settings.upload_timeout_s):
            writer.write(chunk)
    except BaseException:
        writer.discard()
        raise
    stored = await writer.commit()
    if stored.sha256 != expected:
        await state.store.remove(stored.key)
        raise HashMismatch(
            f"the uploaded bytes hash to {stored.sha256}, not {expected}: nothing was finished"
        )
    try:
        task = await state.tasks.mark_finished(
            task_id=task_id,
            lease_token=lease_token,
            key=stored.key,
            size=stored.size,
            sha256=stored.sha256,
        )
    except LeaseLost:
        await state.store.remove(stored.key)
        current = await state.tasks.find_task(task_id)
        if current is not None and _already_finished_by(current, lease_token, expected):
            return _ack(current)  # an overlapping send of the same result finished it first
        raise
    state.metrics.task_ended(task)
    return _ack(task)


def _already_finished_by(task: TaskRow, lease_token: str | None, sha256: str) -> bool:
    return (
        task.status == TaskStatus.FINISHED
        and lease_token is not None
        and task.lease_token == lease_token
        and task.result_sha256 == sha256
    )


def _ack(task: TaskRow) -> ResultAck:
    assert task.result_size is not None and task.result_sha256 is not None
    return ResultAck(
        task_id=task.id,
        status=task.status,
        result=FileInfo(size=task.result_size, sha256=task.result_sha256),
    )


@router.post(Routes.FAIL, response_model=FailResponse, responses={**_BODY_ERRORS, **_LEASE_ERRORS})
async def fail(task_id: str, body: FailRequest, state: StateDep, _: ExecutorDep) -> FailResponse:
    """Retryable → back to QUEUED while attempts remain; otherwise ERROR with the message. An
    executor fault → back to QUEUED without using an attempt; the executor cools down."""
    task = await state.tasks.mark_failed(
        task_id=task_id,
        lease_token=body.lease_token,
        error=body.error,
        retryable=body.retryable,
        executor_fault=body.executor_fault,
    )
    if task.status == TaskStatus.QUEUED:
        await state.signal.queued(1)
    else:
        state.metrics.task_ended(task)
    cooldown = 0.0
    if body.executor_fault and task.executor_id is not None:
        cooldown = await state.tasks.cooldown_left(executor_id=task.executor_id)
    return FailResponse(status=task.status, attempts=task.attempts, cooldown_s=cooldown)
