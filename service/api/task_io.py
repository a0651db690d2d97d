"""A client's task in and out, shared by the task API and the SoraWM-compatible one: whose
tasks a caller sees, a video submitted, the result streamed back."""

from __future__ import annotations

import re

from fastapi import Request, Response

from service.api.auth import Principal
from service.errors import BadUpload, FilesGone, ResultNotReady
from service.files.intake import receive_video
from service.files.ranges import file_response
from service.models import TaskRow
from service.state import AppState
from shared.contract import Headers, TaskStatus


def owner_scope(principal: Principal) -> str | None:
    """Admins see every task; everyone else only their own."""
    return None if principal.is_admin else principal.owner


IDEMPOTENCY_HEADER = Headers.IDEMPOTENCY_KEY
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def idempotency_key(request: Request) -> str | None:
    """The submit's `Idempotency-Key`: 1 to 128 printable ASCII characters, or none."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise BadUpload(f"{IDEMPOTENCY_HEADER} must be 1 to 128 printable ASCII characters")
    return key


async def submit(request: Request, state: AppState, principal: Principal, field: str) -> TaskRow:
    """A new task, or the first task of a retried submit (same owner, same key)."""
    return await receive_video(
        request,
        idempotency_key=idempotency_key(request),
        file_field=field,
        owner=principal.owner,
        settings=state.settings,
        tasks=state.tasks,
        store=state.store,
        signal=state.signal,
    )


async def result_response(request: Request, state: AppState, task: TaskRow) -> Response:
    if task.status != TaskStatus.FINISHED:
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
