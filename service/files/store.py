"""The file store: task files on local disk, streamed in and out, never whole in memory.

Keys are relative paths (`tasks/{task_id}/input.mp4`) so a later S3-compatible store can
implement the same small interface: `writer()`, `read()`, `size()`, `remove_task()`, `check()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from service.errors import StorageFull, UploadTooLarge
from shared.contract import TASK_ID_PATTERN

CHUNK = 1024 * 1024
_TASK_ID = re.compile(TASK_ID_PATTERN)
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


class FileWriter(Protocol):
    size: int

    def write(self, data: bytes) -> None: ...
    async def commit(self) -> StoredFile: ...
    def discard(self) -> None: ...


class FileStore(Protocol):
    def writer(self, task_id: str, name: str, *, max_bytes: int | None = None) -> FileWriter: ...
    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    async def remove(self, key: str) -> None: ...
    async def remove_task(self, task_id: str) -> None: ...
    async def check(self) -> None: ...
    def local_path(self, key: str) -> Path: ...


class LocalWriter:
    """Writes to a temp name beside the target while hashing; `commit` fsyncs and renames."""

    def __init__(self, target: Path, key: str, max_bytes: int | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self._target = target
        self._key = key
        self._temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        self._file = open(self._temp, "wb")  # noqa: SIM115 (closed in commit/discard)
        self._hash = hashlib.sha256()
        self._max = max_bytes
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._max is not None and self.size > self._max:
            raise UploadTooLarge(f"upload is larger than the limit of {self._max} bytes")
        self._hash.update(data)
        with _disk_full_is_507():
            self._file.write(data)

    async def commit(self) -> StoredFile:
        with _disk_full_is_507():
            await asyncio.to_thread(self._flush_and_rename)
        return StoredFile(key=self._key, size=self.size, sha256=self._hash.hexdigest())

    def _flush_and_rename(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self._target)
        _fsync_dir(self._target.parent)

    def discard(self) -> None:
        # closing flushes what is buffered, which fails on a full disk: the file goes anyway
        with contextlib.suppress(OSError):
            self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalFileStore:
    # /health may be polled often and by anyone: the disk is written at most this often, the
    # result kept between (a failure too), and otherwise the folder is only looked at
    WRITE_CHECK_EVERY_S = 10.0

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (self.root / "tasks").mkdir(parents=True, exist_ok=True)
        self._written_at = -math.inf
        self._write_failure: OSError | None = None

    def task_dir(self, task_id: str) -> Path:
        if not _TASK_ID.match(task_id):
            raise ValueError(f"not a task id: {task_id!r}")
        return self.root / "tasks" / task_id

    def writer(self, task_id: str, name: str, *, max_bytes: int | None = None) -> LocalWriter:
        if not _NAME.match(name) or name.startswith("."):
            raise ValueError(f"not a store file name: {name!r}")
        return LocalWriter(self.task_dir(task_id) / name, f"tasks/{task_id}/{name}", max_bytes)

    def local_path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root / "tasks"):
            raise ValueError(f"key outside the store: {key!r}")
        return path

    def size(self, key: str) -> int:
        return self.local_path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of the file, a chunk at a time; reads run off the event loop."""
        path = self.local_path(key)
        file = await asyncio.to_thread(open, path, "rb")
        try:
            file.seek(start)
            remaining = (end if end is not None else path.stat().st_size) - start
            while remaining > 0:
                chunk = await asyncio.to_thread(file.read, min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            file.close()

    async def remove(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    async def remove_task(self, task_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.task_dir(task_id), True)

    async def check(self) -> None:
        now = time.monotonic()
        if now - self._written_at >= self.WRITE_CHECK_EVERY_S:
            self._written_at = now  # before the write: concurrent calls do not all write
            probe = self.root / "tasks" / f".health-{uuid.uuid4().hex[:8]}"
            try:
                await asyncio.to_thread(probe.write_bytes, b"ok")
                probe.unlink()
                self._write_failure = None
            except OSError as exc:
                self._write_failure = exc
        if self._write_failure is not None:
            raise self._write_failure
        (self.root / "tasks").stat()  # a store gone (unmounted, removed) fails at once


@contextlib.contextmanager
def _disk_full_is_507() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull() from exc
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
