"""Small edges: a forged log cursor, a health probe polled hard, the pages' headers."""

from __future__ import annotations

import time

import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.live_service import LiveService


@pytest.mark.parametrize("cursor", ["²", "9" * 30, "12abc"])
def test_a_forged_admin_log_cursor_is_422(http: httpx.Client, cursor: str) -> None:
    response = http.get(Routes.ADMIN_LOGS, params={"cursor": cursor})
    assert response.status_code == 422
    assert "cursor" in str(response.json()["detail"])  # the field named, as a sentence or a list


def test_health_writes_to_the_disk_at_most_every_ten_seconds(
    live: LiveService, http: httpx.Client
) -> None:
    tasks = live.data_dir / "tasks"
    assert http.get(Routes.HEALTH).status_code == 200
    written = tasks.stat().st_mtime_ns  # a probe file made and removed changes it
    time.sleep(0.05)
    for _ in range(20):
        assert http.get(Routes.HEALTH).status_code == 200
    assert tasks.stat().st_mtime_ns == written


@pytest.mark.parametrize("path", [Routes.HOME, Routes.ADMIN_PAGE, "/docs", "/redoc"])
def test_every_page_sends_a_csp_without_inline_scripts_and_nosniff(
    http: httpx.Client, path: str
) -> None:
    response = http.get(path)
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = dict(
        (part.strip().split(" ", 1) + [""])[:2]
        for part in response.headers["content-security-policy"].split(";")
    )
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'"
