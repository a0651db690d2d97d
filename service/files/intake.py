"""Receives a client's video: multipart streamed straight into the store while hashing.

FastAPI's `UploadFile` spools the whole body before the handler runs; a video upload must
instead be refused (413) as soon as it passes the limit, so the form is parsed here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from service.errors import BadUpload, SubmitInProgress, UploadStalled, UploadTooLarge
from service.files.inflow import received
from service.files.probe import probe_video_async
from service.files.store import FileStore, FileWriter
from service.models import TaskRow
from service.runtime.settings import ServiceSettings
from service.runtime.wakeup import QueueSignal
from service.tasks.machine import TaskMachine
from shared.contract import BASE_INPAINTERS, MAX_OPTIONS_BYTES, TaskOptions, TaskStatus

MAX_FIELD_BYTES = 64 * 1024
FORM_OVERHEAD_BYTES = 1024 * 1024  # headers and small fields around the file part
# a chunked body has no Content-Length to check first: the parts are counted as they come
MAX_FORM_PARTS = 16
MAX_FIELDS_BYTES = MAX_OPTIONS_BYTES + 256 * 1024  # every text field together
MAX_PART_HEADER_BYTES = 16 * 1024
_SUFFIX = re.compile(r"^[a-z0-9]{1,8}$")


@dataclass
class _Form:
    """Collects one file part into a writer and small text fields into memory."""

    file_field: str
    open_writer: Callable[[str], FileWriter]
    writer: FileWriter | None = None
    filename: str = ""
    fields: dict[str, bytearray] = field(default_factory=dict)
    _header_name: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _headers: dict[str, bytes] = field(default_factory=dict)
    _target: FileWriter | bytearray | None = None
    _parts: int = 0
    _fields_bytes: int = 0
    _header_bytes: int = 0

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_data(self._header_name, d[s:e]),
            "on_header_value": lambda d, s, e: self._header_data(self._header_value, d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_FORM_PARTS:
            raise UploadTooLarge(f"the form has more than {MAX_FORM_PARTS} parts")
        self._headers.clear()
        self._header_bytes = 0
        self._target = None

    def _header_data(self, into: bytearray, data: bytes) -> None:
        self._header_bytes += len(data)
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise UploadTooLarge(f"a form part's headers pass {MAX_PART_HEADER_BYTES} bytes")
        into.extend(data)

    def _header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == self.file_field and self.writer is None and b"filename" in params:
            self.filename = safe_filename(params[b"filename"].decode("utf-8", "replace"))
            self.writer = self.open_writer(self.filename)
            self._target = self.writer
        elif name and name != self.file_field:
            self._target = self.fields.setdefault(name, bytearray())

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if isinstance(self._target, bytearray):
            # the options may carry mask images; every other field is short
            options = self._target is self.fields.get("options")
            limit = MAX_OPTIONS_BYTES if options else MAX_FIELD_BYTES
            if len(self._target) + end - start > limit:
                raise BadUpload(f"form field is longer than {limit} bytes")
            self._fields_bytes += end - start
            if self._fields_bytes > MAX_FIELDS_BYTES:
                raise UploadTooLarge(f"the form's text fields pass {MAX_FIELDS_BYTES} bytes")
            self._target.extend(data[start:end])
        elif self._target is not None:
            self._target.write(data[start:end])


def safe_filename(raw: str) -> str:
    """The last path component, for display only: it never becomes a path on disk."""
    name = PureWindowsPath(PurePosixPath(raw).name).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    return name.strip(" .")[:200] or "video"


def input_name(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f"input.{suffix}" if _SUFFIX.match(suffix) else "input.bin"


def parse_options(raw: bytes | bytearray | None) -> TaskOptions:
    """The task's options checked against the contract; BadUpload (422) naming the problem."""
    if not raw:
        return TaskOptions()
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise BadUpload(f"options is not valid JSON: {exc}") from exc
    if not isinstance(options, dict):
        raise BadUpload("options must be a JSON object")
    try:
        return TaskOptions.parse(options)
    except ValueError as exc:
        raise BadUpload(str(exc)) from exc


def check_options_fit(options: TaskOptions, meta: dict[str, Any]) -> None:
    """Boxes and masks against the probed video: refused at submit, never found by an
    executor after its claim."""
    try:
        options.check_video(meta.get("width"), meta.get("height"), meta.get("duration_s"))
    except ValueError as exc:
        raise BadUpload(str(exc)) from exc


def waiting_message(options: TaskOptions) -> str | None:
    """What a queued task that not every executor can run waits for."""
    if options.inpainter is not None and options.inpainter not in BASE_INPAINTERS:
        return f"waiting for an executor that can run {options.inpainter}"
    return None


class _Discarded:
    """A file part read and counted, kept nowhere (a retried submit's video)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)


async def _drain(request: Request, settings: ServiceSettings, boundary: bytes, field: str) -> None:
    """Reads a retried upload to its end and keeps none of it; it must still be a submit
    (its file part there, its options well-formed): a key is no licence to skip the checks."""
    limit, total = settings.max_upload_bytes + FORM_OVERHEAD_BYTES, 0
    form = _Form(file_field=field, open_writer=lambda _name: _Discarded())  # type: ignore[arg-type,return-value]
    parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in received(request, idle_s=settings.upload_timeout_s):
            total += len(chunk)
            if total > limit:
                raise UploadTooLarge(f"upload is larger than the limit of {limit} bytes")
            parser.write(chunk)
        parser.finalize()
    except ClientDisconnect:
        return  # the retry's answer is the first task's: nobody is left to read it
    if form.writer is None or form.writer.size == 0:
        raise BadUpload(f"the upload has no file in a field named '{field}'")
    parse_options(form.fields.get("options"))


def _boundary(request: Request) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise BadUpload("expected a multipart/form-data upload")
    return params[b"boundary"]


async def receive_video(
    request: Request,
    *,
    file_field: str,
    owner: str,
    settings: ServiceSettings,
    tasks: TaskMachine,
    store: FileStore,
    signal: QueueSignal,
    idempotency_key: str | None = None,
) -> TaskRow:
    """UPLOADING → QUEUED, or an error with nothing left behind (no row, no files). A submit
    whose `idempotency_key` this owner used before gets that task back, nothing new made."""
    boundary = _boundary(request)
    declared = int(request.headers.get("content-length") or 0)
    if declared > settings.max_upload_bytes + FORM_OVERHEAD_BYTES:
        raise UploadTooLarge(
            f"upload of {declared} bytes is larger than the limit of "
            f"{settings.max_upload_bytes} bytes"
        )
    if idempotency_key is not None:
        first = await tasks.find_by_idempotency_key(owner=owner, key=idempotency_key)
        if first is not None:
            if first.status == TaskStatus.UPLOADING:
                raise SubmitInProgress()
            await _drain(request, settings, boundary, file_field)  # read, or no answer
            return first
    task = await tasks.create_uploading(
        owner=owner, max_attempts=settings.max_attempts, idempotency_key=idempotency_key
    )
    form = _Form(
        file_field=file_field,
        open_writer=lambda name: store.writer(
            task.id, input_name(name), max_bytes=settings.max_upload_bytes
        ),
    )
    queued = False

    async def still_uploading() -> None:
        if not await tasks.touch_upload(task_id=task.id):
            raise UploadStalled("the upload was taken for abandoned: nothing of it was kept")

    try:
        parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
        idle_s = settings.upload_timeout_s
        limit = settings.max_upload_bytes + FORM_OVERHEAD_BYTES
        total = 0
        async for chunk in received(request, idle_s=idle_s, keep_alive=still_uploading):
            total += len(chunk)
            if total > limit:  # a chunked body announced no length to refuse up front
                raise UploadTooLarge(f"upload is larger than the limit of {limit} bytes")
            parser.write(chunk)
        parser.finalize()
        if form.writer is None:
            raise BadUpload(f"the upload has no file field named '{file_field}'")
        if form.writer.size == 0:
            raise BadUpload("the uploaded file is empty (0 bytes)")
        options = parse_options(form.fields.get("options"))
        stored = await form.writer.commit()
        form.writer = None
        meta = await probe_video_async(store.local_path(stored.key))
        check_options_fit(options, meta)
        task = await tasks.mark_queued(
            task_id=task.id,
            filename=form.filename,
            # what the client gave, normalised (boxes as lists); defaults stay implicit
            options=options.model_dump(mode="json", exclude_unset=True),
            message=waiting_message(options),
            key=stored.key,
            size=stored.size,
            sha256=stored.sha256,
            meta=meta,
        )
        queued = True
    except MultipartParseError as exc:
        raise BadUpload(f"the multipart body is malformed: {exc}") from exc
    except ClientDisconnect as exc:
        raise BadUpload("the client went away before the upload finished") from exc
    finally:
        if not queued:
            if form.writer is not None:
                form.writer.discard()
            await store.remove_task(task.id)
            await tasks.discard_upload(task_id=task.id)
    await signal.queued(1)
    return task
