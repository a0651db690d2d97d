"""Every route of the app and the role it requires, written down once: a route added later
without an entry here fails the suite, and each entry is enforced by the live service."""

from __future__ import annotations

from typing import get_args

import pytest
from fastapi.params import Depends
from fastapi.routing import APIRoute, iter_route_contexts

from service.api.auth import AdminDep, ClientDep, ExecutorDep
from service.app import create_app
from service.runtime.settings import ServiceSettings
from tests.fixtures.live_service import LiveService

PUBLIC, CLIENT, EXECUTOR, ADMIN = "public", "client", "executor", "admin"

# (method, path) → the role a caller needs; admin holds every role
ROUTE_ROLES: dict[tuple[str, str], str] = {
    # FastAPI's own pages and the page assets
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("*", "/static"): PUBLIC,
    # pages: they hold no data, every table is filled from the API with the caller's token
    ("GET", "/"): PUBLIC,
    ("GET", "/admin"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/health/live"): PUBLIC,
    # the client's API
    ("POST", "/api/tasks"): CLIENT,
    ("GET", "/api/tasks"): CLIENT,
    ("GET", "/api/tasks/{task_id}"): CLIENT,
    ("DELETE", "/api/tasks/{task_id}"): CLIENT,
    ("GET", "/api/tasks/{task_id}/result"): CLIENT,
    ("POST", "/api/tasks/{task_id}/cancel"): CLIENT,
    ("GET", "/api/tasks/{task_id}/events"): CLIENT,
    ("POST", "/submit_remove_task"): CLIENT,
    ("GET", "/get_results"): CLIENT,
    ("GET", "/download/{task_id}"): CLIENT,
    # the executor's API
    ("POST", "/api/tasks/claim"): EXECUTOR,
    ("GET", "/api/tasks/{task_id}/input"): EXECUTOR,
    ("POST", "/api/tasks/{task_id}/heartbeat"): EXECUTOR,
    ("PUT", "/api/tasks/{task_id}/result"): EXECUTOR,
    ("POST", "/api/tasks/{task_id}/fail"): EXECUTOR,
    ("POST", "/api/logs"): EXECUTOR,
    ("POST", "/api/bases/logs/"): EXECUTOR,
    # the admin's
    ("GET", "/api/admin/logs"): ADMIN,
    ("GET", "/api/admin/logs/stream"): ADMIN,
    ("GET", "/api/executors"): ADMIN,
    ("GET", "/metrics"): ADMIN,
}

_CHECKS = {
    next(arg for arg in get_args(dep) if isinstance(arg, Depends)).dependency: role
    for dep, role in ((ClientDep, CLIENT), (ExecutorDep, EXECUTOR), (AdminDep, ADMIN))
}


def _required_roles(route: APIRoute) -> set[str]:
    """The roles a route's dependencies (at any depth) check for."""
    found: set[str] = set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call in _CHECKS:
            found.add(_CHECKS[dependant.call])
        pending.extend(dependant.dependencies)
    return found


def app_route_roles() -> dict[tuple[str, str], str]:
    """What the app itself says: (method, path) → role, for every route it serves."""
    app = create_app(ServiceSettings())
    roles: dict[tuple[str, str], str] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        methods = sorted((context.methods or {"*"}) - {"HEAD"})
        if isinstance(route, APIRoute):
            required = _required_roles(route)
            assert len(required) <= 1, f"{context.path} checks several roles: {required}"
            role = required.pop() if required else PUBLIC
        else:
            role = PUBLIC  # Starlette's own routes and mounts run no dependency
        for method in methods:
            roles[(method, str(context.path))] = role
    return roles


def test_every_route_of_the_app_has_the_role_written_in_the_table() -> None:
    assert app_route_roles() == ROUTE_ROLES


TOKENS = {
    "SORAWM_CLIENT_TOKENS": "alice:tclient",
    "SORAWM_EXECUTOR_TOKENS": "ex:texecutor",
    "SORAWM_ADMIN_TOKENS": "root:tadmin",
    "SORAWM_LOOPBACK_EXEMPT": "false",
}
A_ROLE_TOKEN = {CLIENT: "tclient", EXECUTOR: "texecutor"}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_each_route_refuses_no_token_and_a_token_of_another_role(service) -> None:
    live: LiveService = service(**TOKENS)
    guarded = {key: role for key, role in ROUTE_ROLES.items() if role != PUBLIC}
    with live.client() as anonymous:
        for (method, path), role in guarded.items():
            url = path.format(task_id="0" * 32)
            assert anonymous.request(method, url).status_code == 401, f"{method} {path}"
            others = [token for other, token in A_ROLE_TOKEN.items() if other != role]
            for token in others:
                response = anonymous.request(
                    method, url, headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 403, f"{method} {path} as {token}"
