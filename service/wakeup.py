"""Wakes long-polling claims when work is queued, so they need not poll the database hard."""

from __future__ import annotations

import asyncio


class QueueSignal:
    """In-process: a submit wakes one waiting claim. Work queued by another replica is found by
    the maintenance loop's slow poll, which wakes as many waiters as there are queued tasks."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()
        self.waiting = 0

    async def notify(self, n: int = 1) -> None:
        async with self._condition:
            self._condition.notify(n)

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
