"""What a route may answer besides its success, for its OpenAPI document: each route lists its
statuses in one line, `responses=answers(404, 409, 422)`; each router that needs a role adds
`answers(401, 403)` for all its routes. A status added to a route is one more number there
(and, if new, one line in `REASONS`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

from shared.contract import ErrorBody, ProblemBody

REASONS: dict[int, str] = {
    400: "the body is not well-formed (not JSON, or cut short), or the Host is not this service's",
    401: "no bearer token, or not a valid one",
    403: "the token does not hold the role this needs, or a browser's write from another origin",
    404: "no such task (or not one of the caller's)",
    408: "the body stopped arriving in time: nothing was kept",
    409: "the task is not in a state that allows this, or the lease is no longer the caller's",
    410: "the task's files were removed by retention",
    413: "larger than the service accepts",
    415: "the upload is not a video",
    416: "the Range lies outside the file",
    422: "the request does not fit its schema, or a value does not fit the task",
    429: "too many live streams open for this caller",
    503: "too many live streams open on this service",
    507: "the service's disk is full: nothing was kept",
}

Responses = dict[int | str, dict[str, Any]]


def answers(*codes: int) -> Responses:
    """The OpenAPI `responses` of these error statuses, each with its body model."""
    return {
        code: {"model": ProblemBody if code == 422 else ErrorBody, "description": REASONS[code]}
        for code in codes
    }


# a stored file served with `Range` and `ETag`
FILE_ANSWERS: Responses = {
    206: {"description": "the part the `Range` header asked for"},
    304: {"description": "unchanged since the `If-None-Match` ETag"},
    **answers(416),
}


def install_allow_header(app: FastAPI) -> None:
    """A 405's `Allow` names every method the path has, not only those of the first route that
    matched it (`GET` and `POST /api/tasks` are two routes)."""

    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        contexts = list(iter_route_contexts(app.routes))
        # the path template routing chose (`/api/tasks/claim`, not `/api/tasks/{task_id}`)
        path = next(
            (c.path for c in contexts if c.matches(request.scope)[0] == Match.PARTIAL), None
        )
        methods: set[str] = set()
        for context in contexts:
            if context.path == path and context.methods:
                methods |= context.methods
        return JSONResponse(
            {"detail": exc.detail}, status_code=405, headers={"Allow": ", ".join(sorted(methods))}
        )

    app.add_exception_handler(405, method_not_allowed)
