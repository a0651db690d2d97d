"""The client side of the API: submit, look, list, cancel, download (resumable)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from shared.contract import Headers, Routes, TaskPage, TaskPublic, TaskStatus

CHUNK = 1024 * 1024
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


SUBMIT_ATTEMPTS = 3


class ClientError(Exception):
    """The service refused or could not be reached; the message says which and why."""


class _Cut(Exception):
    """The connection failed mid-submit: worth sending again under the same key."""


class _CountingReader:
    """Reads a file for httpx's multipart encoder and reports how much has gone."""

    def __init__(self, file: BinaryIO, total: int, progress: Progress | None) -> None:
        self._file, self._total, self._progress = file, total, progress
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size if size and size > 0 else CHUNK)
        self._done += len(data)
        if self._progress is not None:
            self._progress(self._done, self._total)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text or response.reason_phrase


class SoraWMClient:
    def __init__(self, server: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server = server.rstrip("/")
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SoraWMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(f"cannot reach {self.server}: {exc}") from exc
        if response.is_error:
            raise ClientError(f"{response.status_code}: {_detail(response)}")
        return response

    def submit(
        self,
        path: Path,
        *,
        options: dict[str, Any] | None = None,
        progress: Progress | None = None,
        attempts: int = SUBMIT_ATTEMPTS,
    ) -> TaskPublic:
        """Uploads `path`; a connection cut mid-way is retried with the same Idempotency-Key,
        so the service answers with the first task if it had in fact received it."""
        key = secrets.token_hex(16)
        for attempt in range(1, attempts + 1):
            try:
                return self._submit_once(path, options=options, progress=progress, key=key)
            except _Cut as exc:
                if attempt == attempts:
                    raise ClientError(f"cannot reach {self.server}: {exc.__cause__}") from exc
        raise AssertionError("unreachable")

    def _submit_once(
        self, path: Path, *, options: dict[str, Any] | None, progress: Progress | None, key: str
    ) -> TaskPublic:
        size = path.stat().st_size
        with path.open("rb") as file:
            reader = _CountingReader(file, size, progress)
            data = {"options": json.dumps(options)} if options else None
            try:
                response = self.http.post(
                    Routes.TASKS,
                    files={"file": (path.name, reader, "application/octet-stream")},  # type: ignore[dict-item]
                    data=data,
                    headers={Headers.IDEMPOTENCY_KEY: key},
                    timeout=httpx.Timeout(60.0, write=None),
                )
            except httpx.TransportError as exc:
                raise _Cut() from exc
        if response.is_error:
            raise ClientError(f"{response.status_code}: {_detail(response)}")
        return TaskPublic.model_validate(response.json())

    def task(self, task_id: str) -> TaskPublic:
        return TaskPublic.model_validate(
            self._send("GET", Routes.TASK.format(task_id=task_id)).json()
        )

    def tasks(
        self, *, status: TaskStatus | None = None, limit: int = 50, cursor: str | None = None
    ) -> TaskPage:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status.value
        if cursor:
            params["cursor"] = cursor
        return TaskPage.model_validate(self._send("GET", Routes.TASKS, params=params).json())

    def cancel(self, task_id: str) -> TaskPublic:
        response = self._send("POST", Routes.TASK_CANCEL.format(task_id=task_id))
        return TaskPublic.model_validate(response.json())

    def download(self, task_id: str, dest: Path, *, progress: Progress | None = None) -> Path:
        """Streams the result to `dest`; a `.part` file left by a cut download is resumed
        (`Range` + `If-Range` on the ETag, so a changed result starts over)."""
        part = dest.with_name(dest.name + ".part")
        etag_file = dest.with_name(dest.name + ".etag")
        offset = part.stat().st_size if part.exists() else 0
        headers = {}
        if offset and etag_file.exists():
            headers = {"Range": f"bytes={offset}-", "If-Range": etag_file.read_text().strip()}
        url = Routes.TASK_RESULT.format(task_id=task_id)
        try:
            with self.http.stream("GET", url, headers=headers) as response:
                if response.status_code == 416 and _complete(part, offset, response, etag_file):
                    # the cut came after the last byte: nothing is missing
                    part.replace(dest)
                    etag_file.unlink(missing_ok=True)
                    return dest
                if response.status_code == 416:
                    part.unlink(missing_ok=True)  # not the result: start over
                    etag_file.unlink(missing_ok=True)
                    return self.download(task_id, dest, progress=progress)
                if response.is_error:
                    response.read()
                    raise ClientError(f"{response.status_code}: {_detail(response)}")
                resumed = response.status_code == 206
                total = int(response.headers.get("content-length", 0)) + (offset if resumed else 0)
                done = offset if resumed else 0
                etag_file.write_text(response.headers.get("etag", ""))
                with part.open("ab" if resumed else "wb") as file:
                    for chunk in response.iter_bytes(CHUNK):
                        file.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
        except httpx.TransportError as exc:
            raise ClientError(f"download cut off ({exc}); run it again to resume") from exc
        part.replace(dest)
        etag_file.unlink(missing_ok=True)
        return dest


def _complete(part: Path, offset: int, response: httpx.Response, etag_file: Path) -> bool:
    """A 416 to `bytes=offset-`: whether `part` already holds the whole result (its length
    is the file's and its sha256 the ETag)."""
    total = response.headers.get("content-range", "").rpartition("/")[2]
    if not total.isdigit() or int(total) != offset or not etag_file.exists():
        return False
    digest = hashlib.sha256()
    with part.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return etag_file.read_text().strip().strip('"') == digest.hexdigest()
