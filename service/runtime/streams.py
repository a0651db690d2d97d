"""Live streams (task events, the admin's log tail): capped, and woken by one watcher per process.

`StreamGate` caps the streams open at once, per caller and in all (429 / 503 past them).
`ChangeFeed` is the one watcher: while any stream waits, it reads which watched tasks changed and
the log records that arrived (two queries per tick, however many streams are open) and wakes
only the streams concerned. A task stream then reads its own row; a log tail filters the records
the watcher read (`log_batch`), and reads the table itself only to catch up (a start in the
past, or a batch it fell behind). It reads the
database, not process memory, so a stream sees every replica's changes; a poke (work queued here,
or another replica's `NOTIFY`) makes it look at once instead of at its next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger

from service.errors import StreamsFull, TooManyStreams
from service.models import LogRecord

ReadVersions = Callable[[Iterable[str]], Awaitable[dict[str, datetime]]]
ReadLastLogId = Callable[[], Awaitable[int]]
ReadLogsAfter = Callable[[int, int], Awaitable[list[LogRecord]]]  # (after id, limit)
LOG_BATCH = 500  # records read at once, by the watcher or a tail catching up


@dataclass(frozen=True)
class LogBatch:
    """Every record with `after < id <= upto`, oldest first, read once for all the tails."""

    after: int
    upto: int
    records: list[LogRecord]


@dataclass
class StreamSlot:
    """One open stream's place under the caps; `release` may be called more than once."""

    gate: StreamGate
    caller: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gate._free(self.caller)


@dataclass
class StreamGate:
    max_total: int
    max_per_caller: int
    by_caller: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_caller.values())

    def take(self, caller: str) -> StreamSlot:
        """A slot for one more stream of `caller`, or TooManyStreams / StreamsFull."""
        if self.by_caller[caller] >= self.max_per_caller:
            raise TooManyStreams(
                f"{self.max_per_caller} live streams are open for this caller already: "
                "close one first"
            )
        if self.total >= self.max_total:
            raise StreamsFull(f"the service has {self.max_total} live streams open: try later")
        self.by_caller[caller] += 1
        return StreamSlot(self, caller)

    def _free(self, caller: str) -> None:
        self.by_caller[caller] -= 1
        if self.by_caller[caller] <= 0:
            del self.by_caller[caller]


class ChangeFeed:
    """One watcher per process that the live streams wait on."""

    def __init__(
        self,
        read_versions: ReadVersions,
        read_last_log_id: ReadLastLogId,
        read_logs_after: ReadLogsAfter,
        *,
        tick_s: float,
        on_read: Callable[[], None] = lambda: None,
    ) -> None:
        self._read_versions = read_versions
        self._read_last_log_id = read_last_log_id
        self._read_logs_after = read_logs_after
        self._on_read = on_read  # counted in /metrics
        self.tick_s = tick_s
        self._tasks: dict[str, set[asyncio.Event]] = {}
        self._versions: dict[str, datetime | None] = {}
        self._logs: set[asyncio.Event] = set()
        self._last_log_id: int | None = None
        self.log_batch: LogBatch | None = None  # the latest records read, for every tail
        self._poke = asyncio.Event()

    def poke(self) -> None:
        """Something changed here or on another replica: look now."""
        self._poke.set()

    @contextlib.contextmanager
    def watch_task(self, task_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the task's row changes (or goes); the stream clears it."""
        event = asyncio.Event()
        self._tasks.setdefault(task_id, set()).add(event)
        self.poke()  # the new stream's row becomes watched at once
        try:
            yield event
        finally:
            watchers = self._tasks.get(task_id)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._tasks[task_id]
                    self._versions.pop(task_id, None)

    @contextlib.contextmanager
    def watch_logs(self) -> Iterator[asyncio.Event]:
        """An event set whenever log records arrive; the stream clears it."""
        event = asyncio.Event()
        self._logs.add(event)
        self.poke()  # the watcher may be asleep with nobody to watch for
        try:
            yield event
        finally:
            self._logs.discard(event)
            if not self._logs:
                self._last_log_id = None
                self.log_batch = None

    async def run(self) -> None:
        """Until cancelled: every tick (or poke) while streams wait, look and wake."""
        while True:
            if not self._tasks and not self._logs:
                await self._poke.wait()  # nobody watches: no query at all
            self._poke.clear()
            try:
                await self._look()
            except Exception as exc:  # the next tick tries again; streams keep waiting
                logger.warning("the live streams' watcher could not read the database: {}", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._poke.wait()

    async def _look(self) -> None:
        if self._tasks:
            ids = list(self._tasks)
            self._on_read()
            versions = await self._read_versions(ids)
            for task_id in ids:
                now = versions.get(task_id)
                if task_id not in self._versions or self._versions[task_id] != now:
                    self._versions[task_id] = now
                    for event in self._tasks.get(task_id, ()):
                        event.set()
        if self._logs:
            self._on_read()
            first = self._last_log_id is None
            if self._last_log_id is None:  # the first tail: from now on
                self._last_log_id = await self._read_last_log_id()
                records = []
            else:
                records = await self._read_logs_after(self._last_log_id, LOG_BATCH)
            if records:
                upto = records[-1].id
                assert upto is not None
                self.log_batch = LogBatch(self._last_log_id, upto, records)
                self._last_log_id = upto
                if len(records) == LOG_BATCH:
                    self.poke()  # more are waiting
            if records or first:
                for event in self._logs:
                    event.set()


async def wait_for(event: asyncio.Event, within: float) -> bool:
    """True when `event` was set within `within` seconds (and clears it), False if not."""
    try:
        async with asyncio.timeout(within):
            await event.wait()
    except TimeoutError:
        return False
    event.clear()
    return True


async def released_at_end(stream: AsyncIterator[str], slot: StreamSlot) -> AsyncIterator[str]:
    """`stream`, its slot freed when it ends however it ends."""
    try:
        async for chunk in stream:
            yield chunk
    finally:
        slot.release()
