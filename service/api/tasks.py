"""The client's API: submit, look, list, download, cancel, delete, follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from service import leases, queries
from service.auth import ClientDep, Principal
from service.errors import FilesGone, ResultNotReady, TaskNotFound
from service.intake import receive_video
from service.models import TaskRow
from service.ranges import file_response
from service.state import AppState, StateDep
from service.views import task_public
from shared.contract import ErrorBody, Routes, TaskOptions, TaskPage, TaskPublic, TaskStatus

router = APIRouter(tags=["tasks"])

EVENT_POLL_S = 0.5
EVENT_KEEPALIVE_S = 15.0

_UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (413, 415, 422)
}


def owner_scope(principal: Principal) -> str | None:
    """Admins see every task; everyone else only their own."""
    return None if principal.is_admin else principal.owner


async def submit(request: Request, state: AppState, principal: Principal, field: str) -> TaskRow:
    return await receive_video(
        request,
        file_field=field,
        owner=principal.owner,
        settings=state.settings,
        db=state.db,
        store=state.store,
        signal=state.signal,
    )


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
    return task_public(await queries.get_task(state.db, task_id, owner=owner_scope(principal)))


async def result_response(request: Request, state: AppState, task: TaskRow) -> Response:
    if task.status != TaskStatus.FINISHED.value:
        raise ResultNotReady(f"the result is not ready: task is {task.status}")
    if task.files_purged or task.result_path is None or not state.store.exists(task.result_path):
        raise FilesGone()
    assert task.result_sha256 is not None
    stem = (task.input_filename or "video").rsplit(".", 1)[0]
    return file_response(
        request,
        state.store,
        key=task.result_path,
        sha256=task.result_sha256,
        download_name=f"{stem}.cleaned.mp4",
    )


@router.get(
    Routes.TASK_RESULT,
    response_class=StreamingResponse,
    responses={200: {"content": {"video/mp4": {}}}, 409: {"model": ErrorBody}},
)
async def download_result(
    task_id: str, request: Request, state: StateDep, principal: ClientDep
) -> Response:
    """The cleaned video, with `Range` and `ETag` (its sha256); 409 until FINISHED."""
    task = await queries.get_task(state.db, task_id, owner=owner_scope(principal))
    return await result_response(request, state, task)


@router.post(Routes.TASK_CANCEL, response_model=TaskPublic, responses={409: {"model": ErrorBody}})
async def cancel_task(task_id: str, state: StateDep, principal: ClientDep) -> TaskPublic:
    """QUEUED → CANCELLED now; PROCESSING → flagged, the executor stops at its next heartbeat."""
    await queries.get_task(state.db, task_id, owner=owner_scope(principal))
    return task_public(await leases.request_cancel(state.db, task_id=task_id))


@router.delete(Routes.TASK, status_code=204, responses={409: {"model": ErrorBody}})
async def delete_task(task_id: str, state: StateDep, principal: ClientDep) -> Response:
    """Remove the task and its files; a task being uploaded or processed must be cancelled first."""
    await queries.get_task(state.db, task_id, owner=owner_scope(principal))
    await leases.delete_task(state.db, task_id=task_id)
    await state.store.remove_task(task_id)
    return Response(status_code=204)


@router.get(Routes.TASK_EVENTS, response_class=StreamingResponse)
async def task_events(
    task_id: str, request: Request, state: StateDep, principal: ClientDep
) -> StreamingResponse:
    """Server-sent events: an `event: task` with the task's JSON at each change, until it ends."""
    scope = owner_scope(principal)
    await queries.get_task(state.db, task_id, owner=scope)
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
            task = task_public(await queries.get_task(state.db, task_id, owner=owner))
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
