"""Task and executor rows → the contract's public models (times get their UTC zone here)."""

from __future__ import annotations

from typing import Any

from service.clock import aware, maybe_aware
from service.models import Executor, TaskRow
from shared.contract import (
    ExecutorPublic,
    FileInfo,
    InputInfo,
    TaskPublic,
)


def public_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options as shown: a mask's PNG (up to megabytes, sent again with every listing and
    every event) is replaced by its size; the executor's claim still gets it whole."""
    masks = options.get("masks")
    if not masks:
        return options
    shown = [
        {key: value for key, value in mask.items() if key != "png_base64"}
        | {"png_bytes": _decoded_length(mask.get("png_base64", ""))}
        for mask in masks
    ]
    return options | {"masks": shown}


def _decoded_length(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=")


def task_public(task: TaskRow) -> TaskPublic:
    input_info = None
    if task.input_sha256 is not None and task.input_size is not None:
        meta = task.input_meta or {}
        input_info = InputInfo(
            filename=task.input_filename or "video",
            size=task.input_size,
            sha256=task.input_sha256,
            width=meta.get("width"),
            height=meta.get("height"),
            fps=meta.get("fps"),
            duration_s=meta.get("duration_s"),
            has_audio=meta.get("has_audio"),
        )
    result = None
    if task.result_sha256 is not None and task.result_size is not None:
        result = FileInfo(size=task.result_size, sha256=task.result_sha256)
    return TaskPublic(
        id=task.id,
        status=task.status,
        progress=task.progress,
        stage=task.stage,
        message=task.message,
        error=task.error,
        attempts=task.attempts,
        max_attempts=task.max_attempts,
        executor_id=task.executor_id,
        cancel_requested=task.cancel_requested,
        options=public_options(task.options or {}),
        input=input_info,
        result=result,
        created_at=aware(task.created_at),
        updated_at=aware(task.updated_at),
        started_at=maybe_aware(task.started_at),
        finished_at=maybe_aware(task.finished_at),
    )


def executor_public(executor: Executor, *, online: bool, progress: float | None) -> ExecutorPublic:
    return ExecutorPublic(
        id=executor.id,
        online=online,
        busy=online and executor.current_task_id is not None,
        current_task_id=executor.current_task_id,
        current_progress=progress,
        last_seen=aware(executor.last_seen),
        capabilities=executor.capabilities or {},
        done=executor.done,
        failed=executor.failed,
        faults=executor.faults,
        cooldown_until=maybe_aware(executor.cooldown_until),
        last_fault=executor.last_fault,
    )
