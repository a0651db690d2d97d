"""A request body as it arrives, cut off when it stops arriving: an upload may take as long as
it needs while bytes keep coming, and one that goes silent frees its resources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request

from service.errors import UploadStalled

KeepAlive = Callable[[], Awaitable[None]]


async def received(
    request: Request, *, idle_s: float, keep_alive: KeepAlive | None = None
) -> AsyncIterator[bytes]:
    """The body's chunks; `UploadStalled` (408) after `idle_s` without a byte. `keep_alive`,
    when given, runs at most every third of `idle_s` while bytes arrive (it tells the reaper,
    which judges uploads by the same `idle_s`, that this one is alive)."""
    chunks = request.stream().__aiter__()
    alive_at = time.monotonic()
    while True:
        try:
            # a timer per chunk, not a task as `wait_for` makes: uploads read many chunks
            async with asyncio.timeout(idle_s):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadStalled(
                f"no data for {idle_s:g} s: the upload was cut off and nothing of it was kept"
            ) from None
        if keep_alive is not None and time.monotonic() - alive_at >= idle_s / 3:
            alive_at = time.monotonic()
            await keep_alive()
        yield chunk
