"""The single-box SoraWM server's API, so its clients keep working unchanged."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse

from service.api.answers import FILE_ANSWERS, answers
from service.api.auth import ClientDep
from service.api.guarded_route import GuardedRoute
from service.api.task_io import owner_scope, result_response, submit
from service.api.tasks import UPLOAD_ANSWERS, upload_body
from service.state import StateDep
from service.tasks.views import task_public
from shared.contract import CompatResults, CompatSubmitted, ErrorBody, Routes, TaskStatus

router = APIRouter(
    route_class=GuardedRoute, tags=["SoraWM compatibility"], responses=answers(400, 401, 403)
)


@router.post(
    Routes.COMPAT_SUBMIT,
    response_model=CompatSubmitted,
    responses=UPLOAD_ANSWERS,
    openapi_extra=upload_body("video"),
)
async def submit_remove_task(
    request: Request, state: StateDep, principal: ClientDep
) -> CompatSubmitted:
    """Multipart field `video` → `{task_id}`."""
    task = await submit(request, state, principal, "video")
    return CompatSubmitted(task_id=task.id)


@router.get(Routes.COMPAT_RESULTS, response_model=CompatResults, responses=answers(404, 422))
async def get_results(
    state: StateDep,
    principal: ClientDep,
    task_id: str | None = None,
    remove_task_id: str | None = Query(default=None, description="the original server's name"),
) -> CompatResults:
    wanted = task_id or remove_task_id
    if not wanted:
        raise HTTPException(422, detail="give task_id")
    task = task_public(await state.tasks.get_task(wanted, owner=owner_scope(principal)))
    # the original knows no QUEUED or CANCELLED: waiting shows as PROCESSING at 0 %
    status = {
        TaskStatus.QUEUED: TaskStatus.PROCESSING,
        TaskStatus.CANCELLED: TaskStatus.ERROR,
    }.get(task.status, task.status)
    finished = task.status == TaskStatus.FINISHED
    error = task.error or ("cancelled" if task.status == TaskStatus.CANCELLED else None)
    return CompatResults(
        percentage=int(task.progress) if task.status != TaskStatus.QUEUED else 0,
        status=status,
        download_url=Routes.COMPAT_DOWNLOAD.format(task_id=task.id) if finished else None,
        error_message=error,
    )


@router.get(
    Routes.COMPAT_DOWNLOAD,
    response_class=StreamingResponse,
    responses={
        200: {"content": {"video/mp4": {}}},
        400: {"model": ErrorBody, "description": "not FINISHED yet (the original's answer)"},
        **FILE_ANSWERS,
        **answers(404, 410, 422),
    },
)
async def download(
    task_id: str, request: Request, state: StateDep, principal: ClientDep
) -> Response:
    task = await state.tasks.get_task(task_id, owner=owner_scope(principal))
    if task.status != TaskStatus.FINISHED.value:
        # the original answers 400 here, and its clients expect that
        raise HTTPException(400, detail=f"Task not finish yet: {task.status}")
    return await result_response(request, state, task)
