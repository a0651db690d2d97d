"""Bearer tokens and roles: clients see only their own tasks, executors only do executor work,
admins see everything; loopback exemption only for a direct loopback peer, no proxy between."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fixtures.client import list_all, submit, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService

TOKENS = {
    "SORAWM_CLIENT_TOKENS": "alice:ta,bob:tb",
    "SORAWM_EXECUTOR_TOKENS": "ex:te",
    "SORAWM_ADMIN_TOKENS": "root:tadmin",
}
ALICE, BOB, EXECUTOR, ADMIN = "ta", "tb", "te", "tadmin"


@pytest.fixture
def secured(service) -> LiveService:
    """Tokens required from everyone, loopback included."""
    return service(**TOKENS, SORAWM_LOOPBACK_EXEMPT="false")


def as_(live: LiveService, token: str | None) -> httpx.Client:
    return live.client(token)


@pytest.fixture
def alices_task(secured: LiveService, video: Path) -> str:
    with as_(secured, ALICE) as alice:
        return str(submit_ok(alice, video)["id"])


@pytest.fixture
def claimed(secured: LiveService, alices_task: str):
    """Alice's task, claimed by the executor `ex`: (task_id, lease_token)."""
    with ScriptedExecutor(secured.url, "ET-SoraWM-1", token=EXECUTOR) as executor:
        claim = executor.claim_one()
    return claim["task_id"], claim["lease_token"]


def executor_calls(task_id: str, lease_token: str) -> list[tuple[str, str, dict]]:
    return [
        ("POST", "/api/tasks/claim", {"json": {"executor_id": "ET-SoraWM-1", "wait_s": 0}}),
        (
            "POST",
            f"/api/tasks/{task_id}/heartbeat",
            {"json": {"lease_token": lease_token, "progress": 1}},
        ),
        (
            "PUT",
            f"/api/tasks/{task_id}/result",
            {
                "content": b"x",
                "headers": {"X-Lease-Token": lease_token, "X-Content-SHA256": "0" * 64},
            },
        ),
        (
            "POST",
            f"/api/tasks/{task_id}/fail",
            {"json": {"lease_token": lease_token, "error": "no"}},
        ),
        ("GET", f"/api/tasks/{task_id}/input", {"headers": {"X-Lease-Token": lease_token}}),
        (
            "POST",
            "/api/logs",
            {"json": {"executor_id": "ET-SoraWM-1", "records": [{"message": "hi"}]}},
        ),
        ("POST", "/api/bases/logs/", {"json": {"level": "info", "message": "hi"}}),
    ]


ADMIN_ROUTES = ["/api/admin/logs", "/api/admin/logs/stream", "/api/executors", "/metrics"]


def test_no_token_is_401_with_a_bearer_challenge(secured: LiveService) -> None:
    with as_(secured, None) as anonymous:
        for method, path in [
            ("GET", "/api/tasks"),
            ("POST", "/api/tasks/claim"),
            ("GET", "/api/executors"),
        ]:
            response = anonymous.request(method, path)
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"
            assert response.headers["www-authenticate"].lower().startswith("bearer")


def test_health_needs_no_token(secured: LiveService) -> None:
    with as_(secured, None) as anonymous:
        assert anonymous.get("/health").status_code == 200


def test_wrong_token_is_401(secured: LiveService) -> None:
    with as_(secured, "nope") as stranger:
        response = stranger.get("/api/tasks")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].lower().startswith("bearer")


def test_wrong_token_is_401_even_from_an_exempt_loopback(service) -> None:
    live = service(**TOKENS, SORAWM_LOOPBACK_EXEMPT="true")
    with as_(live, "nope") as stranger:
        assert stranger.get("/api/tasks").status_code == 401


def test_client_token_on_executor_routes_is_403_and_changes_nothing(
    secured: LiveService, claimed
) -> None:
    task_id, lease_token = claimed
    with as_(secured, ALICE) as alice:
        for method, path, kwargs in executor_calls(task_id, lease_token):
            response = alice.request(method, path, **kwargs)
            assert response.status_code == 403, (
                f"{method} {path}: {response.status_code} {response.text}"
            )
        task = alice.get(f"/api/tasks/{task_id}").json()
    assert task["status"] == "PROCESSING"
    assert task["progress"] == 0


def test_executor_token_on_client_routes_is_403(
    secured: LiveService, alices_task: str, video: Path
) -> None:
    with as_(secured, EXECUTOR) as executor:
        assert submit(executor, video).status_code == 403
        assert executor.get("/api/tasks").status_code == 403
        assert executor.get(f"/api/tasks/{alices_task}").status_code == 403
        assert executor.post(f"/api/tasks/{alices_task}/cancel").status_code == 403
        assert executor.delete(f"/api/tasks/{alices_task}").status_code == 403
        assert (
            submit(executor, video, field="video", route="/submit_remove_task").status_code == 403
        )


def test_executor_token_on_admin_routes_is_403(secured: LiveService) -> None:
    with as_(secured, EXECUTOR) as executor:
        for path in ADMIN_ROUTES:
            assert executor.get(path).status_code == 403, path


def test_client_token_on_admin_routes_is_403(secured: LiveService) -> None:
    with as_(secured, ALICE) as alice:
        for path in ADMIN_ROUTES:
            assert alice.get(path).status_code == 403, path


def test_another_clients_task_does_not_exist_for_bob(
    secured: LiveService, alices_task: str
) -> None:
    with as_(secured, BOB) as bob:
        for method, route in [
            ("GET", "/api/tasks/{id}"),
            ("GET", "/api/tasks/{id}/result"),
            ("POST", "/api/tasks/{id}/cancel"),
            ("DELETE", "/api/tasks/{id}"),
            ("GET", "/api/tasks/{id}/events"),
            ("GET", "/get_results?task_id={id}"),
            ("GET", "/download/{id}"),
        ]:
            response = bob.request(method, route.format(id=alices_task))
            assert response.status_code == 404, f"{method} {route}: {response.status_code}"
        assert list_all(bob) == []
    with as_(secured, ALICE) as alice:
        assert alice.get(f"/api/tasks/{alices_task}").json()["status"] == "QUEUED"


def test_each_client_lists_only_their_own_tasks_and_admin_sees_all(
    secured: LiveService, alices_task: str, video: Path
) -> None:
    with as_(secured, BOB) as bob:
        bobs_task = submit_ok(bob, video)["id"]
        assert [t["id"] for t in list_all(bob)] == [bobs_task]
    with as_(secured, ALICE) as alice:
        assert [t["id"] for t in list_all(alice)] == [alices_task]
    with as_(secured, ADMIN) as admin:
        assert {t["id"] for t in list_all(admin)} == {alices_task, bobs_task}
        assert admin.get(f"/api/tasks/{alices_task}").status_code == 200
        for path in ADMIN_ROUTES:
            if path.endswith("/stream"):
                continue  # endless by design: its admin access is checked in tests/admin
            assert admin.get(path).status_code == 200, path


def test_the_whole_life_cycle_works_with_tokens(
    secured: LiveService, video: Path, result_bytes: bytes
) -> None:
    with (
        as_(secured, ALICE) as alice,
        ScriptedExecutor(secured.url, "ET-SoraWM-1", token=EXECUTOR) as executor,
    ):
        task = submit_ok(alice, video)
        executor.finish(executor.claim_one(), result_bytes)
        assert alice.get(f"/api/tasks/{task['id']}/result").content == result_bytes


def test_executor_token_cannot_read_an_input_without_the_right_lease_token(
    secured: LiveService, claimed
) -> None:
    task_id, _lease_token = claimed
    with as_(secured, EXECUTOR) as executor:
        response = executor.get(f"/api/tasks/{task_id}/input", headers={"X-Lease-Token": "guessed"})
    assert response.status_code == 409


def test_loopback_needs_no_token_when_exempt(service) -> None:
    live = service(**TOKENS, SORAWM_LOOPBACK_EXEMPT="true")
    with as_(live, None) as local:
        assert local.get("/api/tasks").status_code == 200
        assert local.get("/api/executors").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        ("X-Forwarded-For", "203.0.113.9"),
        ("Forwarded", "for=203.0.113.9"),
        ("X-Real-IP", "203.0.113.9"),
    ],
)
def test_a_request_relayed_by_a_proxy_on_loopback_needs_a_token(
    service, header: tuple[str, str]
) -> None:
    live = service(**TOKENS, SORAWM_LOOPBACK_EXEMPT="true")
    with as_(live, None) as local:
        response = local.get("/api/tasks", headers=dict([header]))
    assert response.status_code == 401


def test_a_trusted_proxy_forwarding_a_loopback_address_gets_no_exemption(service) -> None:
    live = service(**TOKENS, SORAWM_LOOPBACK_EXEMPT="true", SORAWM_TRUSTED_PROXIES="127.0.0.1/32")
    with as_(live, None) as anonymous:
        response = anonymous.get("/api/executors", headers={"X-Forwarded-For": "127.0.0.1"})
    assert response.status_code == 401


def test_forwarded_header_through_a_trusted_proxy_needs_a_token(service) -> None:
    live = service(**TOKENS, SORAWM_LOOPBACK_EXEMPT="true", SORAWM_TRUSTED_PROXIES="127.0.0.1/32")
    with as_(live, None) as local:
        forwarded = local.get("/api/tasks", headers={"X-Forwarded-For": "203.0.113.9"})
        direct = local.get("/api/tasks")
    with as_(live, ALICE) as alice:
        with_token = alice.get("/api/tasks", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 401
    assert direct.status_code == 200
    assert with_token.status_code == 200
