"""Who is calling: bearer tokens per role, compared in constant time, never logged.

Requests from loopback may come without a token (`SORAWM_LOOPBACK_EXEMPT`, the local
default run): only a direct loopback peer that sends no forwarded header, so nothing relayed
by a proxy (trusted or not) is ever exempt. `X-Forwarded-For` names the client (for logs)
only when the peer is one of `SORAWM_TRUSTED_PROXIES`. A presented token is always checked.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service.runtime.settings import LOOPBACK_OWNER, ServiceSettings

# any of these means a proxy relayed the request: its real client is elsewhere
FORWARDED_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


class Role(StrEnum):
    CLIENT = "client"
    EXECUTOR = "executor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[Role]

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def owner(self) -> str:
        """The owner recorded on the tasks this caller submits."""
        return self.name


LOCAL = Principal(name=LOOPBACK_OWNER, roles=frozenset(Role))


def peer_address(request: Request, settings: ServiceSettings) -> str:
    """The address the request really came from; proxies are believed only when trusted."""
    peer = request.client.host if request.client else ""
    if not settings.trusted_proxies:
        return peer
    hops = [peer]
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()] + hops
    # walk back from the nearest hop while it is a proxy we trust
    while len(hops) > 1 and _in_networks(hops[-1], settings):
        hops.pop()
    return hops[-1]


def _in_networks(address: str, settings: ServiceSettings) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.trusted_proxies)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def is_exempt(request: Request, settings: ServiceSettings) -> bool:
    """A direct loopback peer, no proxy in between: the exemption's only case."""
    if not settings.loopback_exempt:
        return False
    peer = request.client.host if request.client else ""
    headers = request.headers
    return _is_loopback(peer) and not any(name in headers for name in FORWARDED_HEADERS)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def _match(token: str, table: dict[str, str]) -> str | None:
    """The token's name; every entry is compared so timing tells nothing."""
    found = None
    for known, name in table.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = name
    return found


async def authenticate(request: Request) -> Principal:
    settings: ServiceSettings = request.app.state.sorawm.settings
    header = request.headers.get("authorization")
    if header is None:
        if is_exempt(request, settings):
            return LOCAL
        raise _unauthorized("a bearer token is required")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    roles: set[Role] = set()
    name = None
    for role, table in (
        (Role.CLIENT, settings.client_tokens),
        (Role.EXECUTOR, settings.executor_tokens),
        (Role.ADMIN, settings.admin_tokens),
    ):
        matched = _match(token, table)
        if matched is not None:
            roles.add(role)
            name = name or matched
    if name is None:
        raise _unauthorized("the token is not valid")
    return Principal(name=name, roles=frozenset(roles))


PRINCIPAL_KEY = "sorawm.principal"


class RoleCheck:
    """A dependency: the caller, who must hold one of `roles` (admin holds every role). A
    class, so that `GuardedRoute` can find it and judge the caller before reading the body."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles
        self.allowed = frozenset(roles) | {Role.ADMIN}

    # async, as every dependency here: a sync one costs a thread-pool hop per request; and
    # `authenticate` is called, not declared as a sub-dependency: each level of dependency
    # solving costs ~30 µs, a tenth of a heartbeat's budget
    async def __call__(self, request: Request) -> Principal:
        principal = request.scope.get(PRINCIPAL_KEY)
        if not isinstance(principal, Principal):
            principal = await authenticate(request)
        if not principal.roles & self.allowed:
            raise HTTPException(403, detail=f"this needs the {' or '.join(self.roles)} role")
        request.scope[PRINCIPAL_KEY] = principal
        return principal


def require(*roles: Role) -> object:
    """A dependency: the caller, who must hold one of `roles` (admin holds every role)."""
    return Depends(RoleCheck(roles))


ClientDep = Annotated[Principal, require(Role.CLIENT)]
ExecutorDep = Annotated[Principal, require(Role.EXECUTOR)]
AdminDep = Annotated[Principal, require(Role.ADMIN)]
