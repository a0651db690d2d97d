"""Log records over the API: the service's own lines, the live tail, retention."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.contract import Routes
from tests.fixtures.client import submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService


def logs(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get(Routes.ADMIN_LOGS, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def eventually(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_service_state_changes_are_stored_as_log_records_of_the_task(
    http: httpx.Client, video: Path
) -> None:
    task = submit_ok(http, video)

    eventually(lambda: len(logs(http, task_id=task["id"])) == 2)
    records = logs(http, task_id=task["id"])
    assert {record["source"] for record in records} == {"service"}
    assert "UPLOADING → QUEUED" in records[0]["message"]


def test_live_tail_receives_a_record_posted_after_it_connected(
    live: LiveService, make_executor: Callable[..., ScriptedExecutor]
) -> None:
    executor = make_executor("ET-SoraWM-4")
    received: list[dict[str, Any]] = []
    connected = threading.Event()

    def tail() -> None:
        params = {"executor_id": "ET-SoraWM-4"}
        with (
            httpx.Client(base_url=live.url, timeout=20) as client,
            client.stream("GET", Routes.ADMIN_LOGS_STREAM, params=params) as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            connected.set()
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    received.append(json.loads(line[5:]))
                    return

    reader = threading.Thread(target=tail, daemon=True)
    reader.start()
    assert connected.wait(10)
    time.sleep(0.3)
    executor.send_logs([{"level": "WARNING", "message": "posted after the tail connected"}])

    reader.join(10)
    assert [record["message"] for record in received] == ["posted after the tail connected"]
    assert received[0]["executor_id"] == "ET-SoraWM-4"


def test_live_tail_skips_records_outside_its_filters(
    live: LiveService, make_executor: Callable[..., ScriptedExecutor]
) -> None:
    executor = make_executor("ET-SoraWM-1")
    with httpx.Client(base_url=live.url, timeout=20) as client:
        first = logs(client, limit=1)
        after = first[0]["id"] if first else 0
        executor.send_logs(
            [
                {"level": "INFO", "message": "quiet line"},
                {"level": "ERROR", "message": "loud line"},
            ]
        )
        params = {"level": "ERROR", "executor_id": "ET-SoraWM-1", "after": str(after)}
        with client.stream("GET", Routes.ADMIN_LOGS_STREAM, params=params) as stream:
            data = next(line for line in stream.iter_lines() if line.startswith("data:"))
    assert json.loads(data[5:])["message"] == "loud line"


def test_log_records_older_than_the_retention_are_removed(
    service: Callable[..., LiveService],
) -> None:
    live = service(SORAWM_LOG_RETENTION_DAYS="1", SORAWM_RETENTION_INTERVAL_S="0.3")
    old = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    with ScriptedExecutor(live.url, "ET-SoraWM-1") as executor, live.client() as http:
        executor.send_logs(
            [
                {"ts": old, "level": "INFO", "message": "from two days ago"},
                {"level": "INFO", "message": "from now"},
            ]
        )

        eventually(lambda: not logs(http, q="two days ago"))
        assert [record["message"] for record in logs(http, q="from now")] == ["from now"]


def test_files_of_ended_tasks_are_removed_after_the_retention(
    service: Callable[..., LiveService], video: Path, result_bytes: bytes
) -> None:
    # 0.00002 days is under two seconds
    live = service(SORAWM_RETENTION_DAYS="0.00002", SORAWM_RETENTION_INTERVAL_S="0.3")
    with ScriptedExecutor(live.url) as executor, live.client() as http:
        task = submit_ok(http, video)
        claim = executor.claim().json()
        assert executor.upload_result(task["id"], claim["lease_token"], result_bytes).is_success

        eventually(lambda: not live.task_dir(task["id"]).exists())
        response = http.get(Routes.TASK_RESULT.format(task_id=task["id"]))
        assert response.status_code == 410
        assert http.get(Routes.TASK.format(task_id=task["id"])).json()["status"] == "FINISHED"


def test_live_tail_needs_the_admin_token(service: Callable[..., LiveService]) -> None:
    live = service(
        SORAWM_LOOPBACK_EXEMPT="false",
        SORAWM_ADMIN_TOKENS="root:s3cret-admin",
        SORAWM_CLIENT_TOKENS="alice:s3cret-client",
    )
    with httpx.Client(base_url=live.url, timeout=20) as http:
        assert http.get(Routes.ADMIN_LOGS_STREAM).status_code == 401
        refused = http.get(
            Routes.ADMIN_LOGS_STREAM, headers={"Authorization": "Bearer s3cret-client"}
        )
        assert refused.status_code == 403
        with http.stream(
            "GET", Routes.ADMIN_LOGS_STREAM, headers={"Authorization": "Bearer s3cret-admin"}
        ) as stream:
            assert stream.status_code == 200
            assert next(stream.iter_lines()).startswith(":")
