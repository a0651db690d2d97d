"""Wakes long-polling claims when work is queued, so they need not poll the database hard.

In one process a submit wakes one waiting claim (`QueueSignal`). Replicas on one PostgreSQL
tell each other through `LISTEN`/`NOTIFY` (`PgQueueChannel`), so a claim waiting on one replica
takes work submitted to another at once. The maintenance loop's slow poll stays as the fallback
(a lost listening connection, several processes on one SQLite file): it wakes as many waiters as
there are queued tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
from loguru import logger

from service.runtime.db import Database

CHANNEL = "sorawm_queued"
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
Wake = Callable[[int], Coroutine[Any, Any, None]]  # (number of tasks queued)


class QueueSignal:
    """In-process wake-ups of waiting claims; `broadcast`, when given, tells other replicas."""

    def __init__(
        self, broadcast: Wake | None = None, also: Callable[[], None] | None = None
    ) -> None:
        self._condition = asyncio.Condition()
        self._broadcast = broadcast
        self._also = also  # told of every wake-up too (the live streams' watcher)
        self.waiting = 0

    async def notify(self, n: int = 1) -> None:
        """Wake up to `n` claims waiting in this process."""
        if self._also is not None:
            self._also()
        async with self._condition:
            self._condition.notify(n)

    async def queued(self, n: int = 1) -> None:
        """`n` tasks were queued here: wake as many waiting claims, here and on other replicas."""
        await self.notify(n)
        if self._broadcast is not None:
            await self._broadcast(n)

    async def wait(self, within: float) -> bool:
        """True when woken, False on timeout."""
        async with self._condition:
            self.waiting += 1
            try:
                await asyncio.wait_for(self._condition.wait(), within)
                return True
            except TimeoutError:
                return False
            finally:
                self.waiting -= 1


class PgQueueChannel:
    """`NOTIFY` on PostgreSQL when work is queued here; wake this replica's claims when another
    replica says so. The payload names the replica, so one's own notices are skipped (its claims
    were woken in process already)."""

    RECONNECT_S = 1.0
    MAX_RECONNECT_S = 30.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self.replica = secrets.token_hex(8)
        self._wakes: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak refs)

    async def publish(self, n: int) -> None:
        """Tell the other replicas; a failure is logged, not raised: the work is queued already
        and their slow poll finds it."""
        assert self.db.pool is not None
        try:
            await self.db.pool.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{self.replica}:{n}")
        except _DATABASE_ERRORS as error:
            logger.warning("could not tell the other replicas about queued work: {}", error)

    async def listen(self, wake: Wake) -> None:
        """Run until cancelled: hold a connection that LISTENs and wakes claims through `wake`;
        reconnect when it is lost."""
        loop = asyncio.get_running_loop()

        def on_notice(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            replica, _, count = payload.partition(":")
            if replica != self.replica and count.isdigit():
                task = loop.create_task(wake(int(count)))
                self._wakes.add(task)
                task.add_done_callback(self._wakes.discard)

        delay = self.RECONNECT_S
        while True:
            try:
                await self._hold(on_notice)
                logger.warning("lost the connection that listens for other replicas' work")
                delay = self.RECONNECT_S
            except _DATABASE_ERRORS as error:
                logger.warning(
                    "cannot listen for other replicas' work ({}); retrying in {:g} s", error, delay
                )
                delay = min(self.MAX_RECONNECT_S, delay * 2)
            await asyncio.sleep(delay)

    async def _hold(self, on_notice: Callable[[object, int, str, str], None]) -> None:
        """One listening connection, until it is lost."""
        lost = asyncio.Event()
        connection = await self.db.connect()
        try:
            connection.add_termination_listener(lambda _conn: lost.set())
            await connection.add_listener(CHANNEL, on_notice)
            await lost.wait()
        finally:
            if not connection.is_closed():
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
