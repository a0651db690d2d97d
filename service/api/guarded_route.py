"""Routes that judge the caller before reading a byte of the body, and read at most a cap.

FastAPI reads and parses a JSON body before it solves any dependency, role checks
included: anyone could make the service hold a body of any size. Here the route's role is
checked from the headers first (401/403), then the body is counted as it arrives (413 past
the cap, Content-Length or not; 408 when it does not arrive in time). Routes that stream
an upload themselves declare no body and keep their own limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

from service.api.auth import RoleCheck
from service.runtime.settings import ServiceSettings
from shared.contract import MAX_JSON_BODY_BYTES

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def body_too_large(limit: int) -> HTTPException:
    return HTTPException(413, detail=f"the request body is larger than {limit} bytes")


def capped(receive: Receive, *, limit: int, timeout_s: float) -> Receive:
    """`receive` that raises 413 once the body passes `limit` and 408 once it has taken
    longer than `timeout_s`; what follows the body (disconnects) passes untouched."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    seen = 0
    finished = False

    async def receive_capped() -> Message:
        nonlocal seen, finished
        if finished:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise HTTPException(
                408, detail=f"the request body did not arrive within {timeout_s:g} s"
            ) from None
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise body_too_large(limit)
            finished = not message.get("more_body", False)
        return message

    return receive_capped


class GuardedRoute(APIRoute):
    """The caller first, then a body of at most `max_body_bytes`."""

    max_body_bytes = MAX_JSON_BODY_BYTES

    @classmethod
    def with_limit(cls, max_body_bytes: int) -> type[GuardedRoute]:
        return type(f"GuardedRoute{max_body_bytes}", (cls,), {"max_body_bytes": max_body_bytes})

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler  # no body read here: dependencies (the role) already come first
        checks = [
            dep.call for dep in self.dependant.dependencies if isinstance(dep.call, RoleCheck)
        ]
        limit = self.max_body_bytes

        async def guarded(request: Request) -> Response:
            for check in checks:
                await check(request)  # remembered on the request: not judged twice
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise body_too_large(limit)
            settings: ServiceSettings = request.app.state.sorawm.settings
            receive = capped(request.receive, limit=limit, timeout_s=settings.body_timeout_s)
            return await handler(Request(request.scope, receive))

        return guarded
