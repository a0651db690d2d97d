"""Refuses a request for a Host this service is not (400: DNS rebinding turns a browser on
this machine against a loopback-exempt service), and a state-changing browser request sent
from another origin (403: a cross-site form or fetch). Clients that are not browsers send
neither `Origin` nor `Sec-Fetch-Site`, and pass."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.runtime.settings import ServiceSettings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# `same-site` too: another port or subdomain of this host is still another origin
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


def host_name(host: str) -> str:
    """`Host` without its port, lower case, IPv6 without brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def refusal(
    method: str, headers: Headers, allowed: frozenset[str] | None
) -> tuple[int, str] | None:
    """(status, detail) when the request must be refused, else None."""
    host = headers.get("host", "")
    if allowed is not None and host_name(host) not in allowed:
        return 400, (
            f"this service does not answer for host {host[:100]!r}: use one of "
            f"{', '.join(sorted(allowed))}, or add it to SORAWM_ALLOWED_HOSTS"
        )
    if method not in UNSAFE_METHODS:
        return None
    if headers.get("sec-fetch-site", "").lower() in FOREIGN_FETCH_SITES:
        return 403, "a request from another site's page cannot change anything here"
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin.strip()).netloc.lower() != host.strip().lower():
        return 403, f"a request from origin {origin[:100]!r} cannot change anything here"
    return None


class OriginGuard:
    """Pure ASGI: refused requests never reach routing, and no body is read."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.app = app
        self.allowed = settings.host_names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = refusal(scope["method"], Headers(scope=scope), self.allowed)
            if problem is not None:
                status, detail = problem
                await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)
