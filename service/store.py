"""The file store: task files on local disk, streamed in and out, never whole in memory.

Keys are relative paths (`tasks/{task_id}/input.mp4`) so a later S3-compatible store can
implement the same small interface: `writer()`, `read()`, `size()`, `remove_task()`, `check()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from service.errors import UploadTooLarge

CHUNK = 1024 * 1024
# uploads are handed to the writer thread this many bytes at a time
FLUSH_BYTES = 4 * CHUNK
# downloads are read this many bytes at a time (one block read ahead)
READ_BYTES = CHUNK
_TASK_ID = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


class FileWriter(Protocol):
    size: int

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    async def commit(self) -> StoredFile: ...
    async def discard(self) -> None: ...


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
    """Streams one file into the store: `write` only collects the bytes; each `drain` past
    FLUSH_BYTES hands the collected buffer to a worker thread, which creates the temp file
    beside the target on first use, hashes (sha256 releases the GIL) and writes it while the
    event loop goes on receiving the next buffer. `commit` writes the rest, fsyncs and renames,
    a small file in one thread hop. Memory: about two buffers whatever the file's size."""

    def __init__(self, target: Path, key: str, max_bytes: int | None) -> None:
        self._target = target
        self._key = key
        self._temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        self._file: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._max = max_bytes
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._in_flight: asyncio.Future[None] | None = None
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._max is not None and self.size > self._max:
            raise UploadTooLarge(f"upload is larger than the limit of {self._max} bytes")
        self._buffer.append(data)
        self._buffered += len(data)

    async def drain(self) -> None:
        """Starts writing the collected bytes once there are FLUSH_BYTES of them; waits only
        for the buffer before it, so receiving and writing overlap."""
        if self._buffered < FLUSH_BYTES:
            return
        await self._wait_in_flight()
        chunks = self._take_buffer()
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(self._write_chunks, chunks))

    async def commit(self) -> StoredFile:
        await self._wait_in_flight()
        await asyncio.to_thread(self._write_and_rename, self._take_buffer())
        return StoredFile(key=self._key, size=self.size, sha256=self._hash.hexdigest())

    async def discard(self) -> None:
        # shielded: the temp file must go even when the request that wrote it was cancelled
        await asyncio.shield(self._discard())

    async def _discard(self) -> None:
        with contextlib.suppress(Exception):
            await self._wait_in_flight()
        self._buffer.clear()
        await asyncio.to_thread(self._close_and_unlink)

    async def _wait_in_flight(self) -> None:
        # shielded: a cancelled request must not let `discard` close the file under a thread
        # still writing it; the write stays "in flight" until it has really ended
        if self._in_flight is not None:
            await asyncio.shield(self._in_flight)
            self._in_flight = None

    def _take_buffer(self) -> list[bytes]:
        chunks, self._buffer, self._buffered = self._buffer, [], 0
        return chunks

    # ------------------------------------------------ in the worker thread

    def _write_chunks(self, chunks: list[bytes]) -> None:
        if self._file is None:
            self._target.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self._temp, "wb")  # noqa: SIM115 (closed in commit/discard)
        for chunk in chunks:
            self._hash.update(chunk)
            self._file.write(chunk)

    def _write_and_rename(self, chunks: list[bytes]) -> None:
        self._write_chunks(chunks)
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self._target)
        _fsync_dir(self._target.parent)

    def _close_and_unlink(self) -> None:
        if self._file is not None:
            self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (self.root / "tasks").mkdir(parents=True, exist_ok=True)

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
        """Bytes [start, end) of the file, READ_BYTES at a time. Reads run in a worker thread,
        one block ahead: the next block is read while the event loop sends this one."""
        fd = await asyncio.to_thread(os.open, self.local_path(key), os.O_RDONLY)
        ahead: asyncio.Future[bytes] | None = None
        try:
            end = os.fstat(fd).st_size if end is None else end
            position = start

            def read_next() -> asyncio.Future[bytes] | None:
                if position >= end:
                    return None
                length = min(READ_BYTES, end - position)
                return asyncio.ensure_future(asyncio.to_thread(os.pread, fd, length, position))

            ahead = read_next()
            while ahead is not None:
                # shielded: when the response is cancelled, the read runs on to its end and
                # only then is the descriptor closed (see `finally`)
                block = await asyncio.shield(ahead)
                ahead = None
                if not block:
                    break  # the file is shorter than it was: send what there is
                position += len(block)
                ahead = read_next()
                yield block
        finally:
            if ahead is not None and not ahead.done():
                # a thread cannot be stopped: the descriptor closes once its read returns
                ahead.add_done_callback(lambda _: os.close(fd))
            else:
                os.close(fd)

    async def remove(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    async def remove_task(self, task_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.task_dir(task_id), True)

    async def check(self) -> None:
        probe = self.root / "tasks" / f".health-{uuid.uuid4().hex[:8]}"
        await asyncio.to_thread(probe.write_bytes, b"ok")
        probe.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
