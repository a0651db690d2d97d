"""PostgreSQL restarted while an executor works: the service's pools replace their dropped
connections, no request hangs, and the task finishes exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService
from tests.fixtures.postgres import PostgresServer


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own: restarting the session's would disturb other tests."""
    server = PostgresServer().start()
    yield server
    server.stop()


def answered(call: Callable[[], httpx.Response], *, within: float = 30.0) -> httpx.Response:
    """`call` again while the service answers 5xx (a dropped connection fails one request);
    every call must answer, none may hang (the client's timeout is 10 s)."""
    deadline = time.monotonic() + within
    while True:
        response = call()
        if response.status_code < 500:
            return response
        assert time.monotonic() < deadline, f"still {response.status_code}: {response.text}"
        time.sleep(0.2)


def test_the_service_recovers_when_postgresql_restarts_under_a_running_task(
    own_postgres: PostgresServer, tmp_path: Path, video: Path, result_bytes: bytes
) -> None:
    live = LiveService(tmp_path / "service", database_url=own_postgres.create_database())
    live.start()
    try:
        with live.client() as http, ScriptedExecutor(live.url) as executor:
            http.timeout = httpx.Timeout(10)
            executor.http.timeout = httpx.Timeout(10)
            task = submit_ok(http, video)
            claim = executor.claim_one()
            token = claim["lease_token"]

            own_postgres.restart()

            beat = answered(lambda: executor.heartbeat(task["id"], token, progress=40))
            assert beat.status_code == 200, beat.text
            listing = answered(lambda: http.get(Routes.TASKS))
            assert listing.status_code == 200
            second = answered(
                lambda: http.post(
                    Routes.TASKS, files={"file": ("v.mp4", video.read_bytes(), "video/mp4")}
                )
            )
            assert second.status_code == 201, second.text
            download = answered(lambda: executor.download_input(task["id"], token))
            assert download.status_code == 200
            upload = answered(lambda: executor.upload_result(task["id"], token, result_bytes))
            assert upload.status_code == 200, upload.text
            done = get_task(http, task["id"])
            assert (done["status"], done["attempts"]) == ("FINISHED", 1)
            assert http.get(Routes.HEALTH).status_code == 200
    finally:
        live.kill()
