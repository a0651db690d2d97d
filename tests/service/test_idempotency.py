"""A retried submit (same `Idempotency-Key`, same caller) gets the first task, never a second."""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.contract import Headers, Routes
from tests.fixtures.client import list_all
from tests.fixtures.live_service import LiveService


def _submit(
    http: httpx.Client, video: Path, key: str | None, route: str = Routes.TASKS
) -> httpx.Response:
    field = "video" if route == Routes.COMPAT_SUBMIT else "file"
    headers = {Headers.IDEMPOTENCY_KEY: key} if key is not None else {}
    files = {field: ("clip.mp4", video.read_bytes(), "video/mp4")}
    return http.post(route, files=files, headers=headers)


def test_a_retried_submit_returns_the_first_task(live: LiveService, video: Path) -> None:
    with live.client() as http:
        first = _submit(http, video, "retry-1")
        again = _submit(http, video, "retry-1")
        assert first.status_code == 201
        assert again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert [task["id"] for task in list_all(http)] == [first.json()["id"]]


def test_the_compat_submit_takes_the_key_too(live: LiveService, video: Path) -> None:
    with live.client() as http:
        first = _submit(http, video, "retry-2", Routes.COMPAT_SUBMIT)
        again = _submit(http, video, "retry-2", Routes.COMPAT_SUBMIT)
        assert again.json()["task_id"] == first.json()["task_id"]
        assert len(list_all(http)) == 1


def test_another_callers_same_key_makes_its_own_task(service, video: Path) -> None:
    live = service(SORAWM_CLIENT_TOKENS="alice:ta,bob:tb", SORAWM_LOOPBACK_EXEMPT="false")
    with live.client("ta") as alice, live.client("tb") as bob:
        alices = _submit(alice, video, "same-key").json()["id"]
        bobs = _submit(bob, video, "same-key").json()["id"]
        assert alices != bobs
        assert [task["id"] for task in list_all(bob)] == [bobs]


def test_a_malformed_key_is_422_and_nothing_is_made(live: LiveService, video: Path) -> None:
    with live.client() as http:
        response = _submit(http, video, "x" * 129)
        assert response.status_code == 422
        assert list_all(http) == []


def test_a_retry_under_a_used_key_without_its_video_is_still_refused(
    live: LiveService, video: Path
) -> None:
    """The key returns the first task to a retry of the same submit, not to any request."""
    with live.client() as http:
        first = _submit(http, video, "retry-3")
        assert first.status_code == 201
        headers = {Headers.IDEMPOTENCY_KEY: "retry-3"}
        empty = http.post(Routes.TASKS, files={"options": (None, "{}")}, headers=headers)
        assert empty.status_code == 422
        assert [task["id"] for task in list_all(http)] == [first.json()["id"]]
