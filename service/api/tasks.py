"""The client's API: submit, look, list, download, cancel, delete, follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from service.api.answers import FILE_ANSWERS, answers
from service.api.auth import ClientDep
from service.api.guarded_route import GuardedRoute
from service.api.task_io import IDEMPOTENCY_HEADER, owner_scope, result_response, submit
from service.errors import TaskNotFound
from service.runtime.streams import released_at_end, wait_for
from service.state import AppState, StateDep
from service.tasks import queries
from service.tasks.views import task_public
from shared.contract import Routes, TaskOptions, TaskPage, TaskPublic, TaskStatus

router = APIRouter(route_class=GuardedRoute, tags=["tasks"], responses=answers(400, 401, 403))

EVENT_KEEPALIVE_S = 15.0


# the upload's multipart body, as `POST /api/tasks` and `/submit_remove_task` take it: `options`
# is a JSON object (a multipart part of type object is sent as application/json)
def upload_body(file_field: str) -> dict[str, object]:
    return {
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [file_field],
                        "properties": {
                            file_field: {"type": "string", "format": "binary"},
                            "options": {
                                "type": "object",
                                "description": "TaskOptions: " + (TaskOptions.__doc__ or ""),
                            },
                        },
                    }
                }
            },
            "required": True,
        },
        "parameters": [
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "a retry with the same key (same owner) gets the first task back",
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
            }
        ],
    }


# 409: a submit under the same Idempotency-Key is still uploading
UPLOAD_ANSWERS = answers(408, 409, 413, 415, 422, 507)


@router.post(
    Routes.TASKS,
    status_code=201,
    response_model=TaskPublic,
    responses=UPLOAD_ANSWERS,
    openapi_extra=upload_body("file"),
)
async def create_task(request: Request, state: StateDep, principal: ClientDep) -> TaskPublic:
    """Upload a video (multipart field `file`, optional `options` JSON): streamed to the store
    with its sha256, refused with 413 past the size limit and 415 when it is not a video; 422
    names any option that is malformed or does not fit the video (nothing is kept)."""
    return task_public(await submit(request, state, principal, "file"))


@router.get(Routes.TASKS, response_model=TaskPage, responses=answers(422))
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


@router.get(Routes.TASK, response_model=TaskPublic, responses=answers(404, 422))
async def get_task(task_id: str, state: StateDep, principal: ClientDep) -> TaskPublic:
    return task_public(await state.tasks.get_task(task_id, owner=owner_scope(principal)))


@router.get(
    Routes.TASK_RESULT,
    response_class=StreamingResponse,
    responses={200: {"content": {"video/mp4": {}}}, **FILE_ANSWERS, **answers(404, 409, 410, 422)},
)
async def download_result(
    task_id: str, request: Request, state: StateDep, principal: ClientDep
) -> Response:
    """The cleaned video, with `Range` and `ETag` (its sha256); 409 until FINISHED."""
    task = await state.tasks.get_task(task_id, owner=owner_scope(principal))
    return await result_response(request, state, task)


@router.post(Routes.TASK_CANCEL, response_model=TaskPublic, responses=answers(404, 409, 422))
async def cancel_task(task_id: str, state: StateDep, principal: ClientDep) -> TaskPublic:
    """QUEUED → CANCELLED now; PROCESSING → flagged, the executor stops at its next heartbeat."""
    await state.tasks.get_task(task_id, owner=owner_scope(principal))
    cancelled = task_public(await state.tasks.request_cancel(task_id=task_id))
    state.changes.poke()  # its live streams say so now
    return cancelled


@router.delete(Routes.TASK, status_code=204, responses=answers(404, 409, 422))
async def delete_task(task_id: str, state: StateDep, principal: ClientDep) -> Response:
    """Remove the task and its files; a task being uploaded or processed must be cancelled first."""
    await state.tasks.get_task(task_id, owner=owner_scope(principal))
    await state.tasks.delete_task(task_id=task_id)
    await state.store.remove_task(task_id)
    return Response(status_code=204)


@router.get(
    Routes.TASK_EVENTS,
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **answers(404, 422, 429, 503)},
)
async def task_events(
    task_id: str, request: Request, state: StateDep, principal: ClientDep
) -> StreamingResponse:
    """Server-sent events: an `event: task` with the task's JSON at each change, until it ends.
    429 past `SORAWM_MAX_STREAMS_PER_CALLER` open streams, 503 past `SORAWM_MAX_STREAMS`."""
    scope = owner_scope(principal)
    await state.tasks.get_task(task_id, owner=scope)
    slot = state.streams.take(principal.name)
    return StreamingResponse(
        released_at_end(_follow(request, state, task_id, scope), slot),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(slot.release),  # also when the stream never started
    )


async def _follow(
    request: Request, state: AppState, task_id: str, owner: str | None
) -> AsyncIterator[str]:
    # the row is read when the process's watcher saw it change (on any replica), not polled
    last = None
    with state.changes.watch_task(task_id) as changed:
        while not await request.is_disconnected():
            try:
                task = task_public(await state.tasks.get_task(task_id, owner=owner))
            except TaskNotFound:
                yield "event: deleted\ndata: {}\n\n"
                return
            payload = task.model_dump_json()
            if payload != last:
                last = payload
                yield f"event: task\ndata: {payload}\n\n"
                if task.status.ended:
                    return
            while not await wait_for(changed, EVENT_KEEPALIVE_S):
                yield ": keep-alive\n\n"
