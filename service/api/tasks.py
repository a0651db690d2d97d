"""The client's API: submit, look, list, download, cancel, delete, follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from service.api.auth import ClientDep
from service.api.guarded_route import GuardedRoute
from service.api.task_io import owner_scope, result_response, submit
from service.errors import TaskNotFound
from service.state import AppState, StateDep
from service.tasks import queries
from service.tasks.views import task_public
from shared.contract import ErrorBody, Routes, TaskOptions, TaskPage, TaskPublic, TaskStatus

router = APIRouter(route_class=GuardedRoute, tags=["tasks"])

EVENT_POLL_S = 0.5
EVENT_KEEPALIVE_S = 15.0

_UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (408, 413, 415, 422, 507)
}


@router.post(
    Routes.TASKS,
    status_code=201,
    response_model=TaskPublic,
    responses=_UPLOAD_ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "options": {
                                "type": "string",
                                "description": "a JSON object, TaskOptions: "
                                + (TaskOptions.__doc__ or ""),
                            },
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def create_task(request: Request, state: StateDep, principal: ClientDep) -> TaskPublic:
    """Upload a video (multipart field `file`, optional `options` JSON): streamed to the store
    with its sha256, refused with 413 past the size limit and 415 when it is not a video; 422
    names any option that is malformed or does not fit the video (nothing is kept)."""
    return task_public(await submit(request, state, principal, "file"))


@router.get(Routes.TASKS, response_model=TaskPage)
async def list_tasks(
    state: StateDep,
    principal: ClientDep,
    status: TaskStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> TaskPage:
    """The caller's tasks, newest first, `next_cursor` for the next page."""
    rows, next_cursor = await queries.list_tasks(
        state.db, owner=owner_scope(principal), status=status, limit=limit, cursor=cursor
    )
    return TaskPage(items=[task_public(task) for task in rows], next_cursor=next_cursor)


@router.get(Routes.TASK, response_model=TaskPublic, responses={404: {"model": ErrorBody}})
async def get_task(task_id: str, state: StateDep, principal: ClientDep) -> TaskPublic:
    return task_public(await state.tasks.get_task(task_id, owner=owner_scope(principal)))


@router.get(
    Routes.TASK_RESULT,
    response_class=StreamingResponse,
    responses={200: {"content": {"video/mp4": {}}}, 409: {"model": ErrorBody}},
)
async def download_result(
    task_id: str, request: Request, state: StateDep, principal: ClientDep
) -> Response:
    """The cleaned video, with `Range` and `ETag` (its sha256); 409 until FINISHED."""
    task = await state.tasks.get_task(task_id, owner=owner_scope(principal))
    return await result_response(request, state, task)


@router.post(Routes.TASK_CANCEL, response_model=TaskPublic, responses={409: {"model": ErrorBody}})
async def cancel_task(task_id: str, state: StateDep, principal: ClientDep) -> TaskPublic:
    """QUEUED → CANCELLED now; PROCESSING → flagged, the executor stops at its next heartbeat."""
    await state.tasks.get_task(task_id, owner=owner_scope(principal))
    return task_public(await state.tasks.request_cancel(task_id=task_id))


@router.delete(Routes.TASK, status_code=204, responses={409: {"model": ErrorBody}})
async def delete_task(task_id: str, state: StateDep, principal: ClientDep) -> Response:
    """Remove the task and its files; a task being uploaded or processed must be cancelled first."""
    await state.tasks.get_task(task_id, owner=owner_scope(principal))
    await state.tasks.delete_task(task_id=task_id)
    await state.store.remove_task(task_id)
    return Response(status_code=204)


@router.get(Routes.TASK_EVENTS, response_class=StreamingResponse)
async def task_events(
    task_id: str, request: Request, state: StateDep, principal: ClientDep
) -> StreamingResponse:
    """Server-sent events: an `event: task` with the task's JSON at each change, until it ends."""
    scope = owner_scope(principal)
    await state.tasks.get_task(task_id, owner=scope)
    return StreamingResponse(
        _follow(request, state, task_id, scope),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _follow(
    request: Request, state: AppState, task_id: str, owner: str | None
) -> AsyncIterator[str]:
    # polls the database, not process memory, so any replica can serve any task's stream
    last = None
    quiet = 0.0
    while not await request.is_disconnected():
        try:
            task = task_public(await state.tasks.get_task(task_id, owner=owner))
        except TaskNotFound:
            yield "event: deleted\ndata: {}\n\n"
            return
        payload = task.model_dump_json()
        if payload != last:
            last, quiet = payload, 0.0
            yield f"event: task\ndata: {payload}\n\n"
            if task.status.ended:
                return
        elif quiet >= EVENT_KEEPALIVE_S:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(EVENT_POLL_S)
        quiet += EVENT_POLL_S
