"""Cancel: a QUEUED task ends at once; a PROCESSING one is flagged and its executor told on the
next heartbeat. Delete removes an ended task and its files."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.client import folders_under, get_task, submit_ok
from tests.fixtures.live_service import LiveService


def cancel(http: httpx.Client, task_id: str) -> httpx.Response:
    return http.post(f"/api/tasks/{task_id}/cancel")


def test_cancelling_a_queued_task_cancels_it_at_once(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)

    response = cancel(http, task["id"])

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    assert get_task(http, task["id"])["status"] == "CANCELLED"
    assert make_executor().claim().status_code == 204


def test_cancelling_a_processing_task_flags_it_and_keeps_it_processing(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)
    make_executor().claim_one()

    response = cancel(http, task["id"])

    assert response.status_code == 200
    assert response.json()["status"] == "PROCESSING"
    assert response.json()["cancel_requested"] is True
    seen = get_task(http, task["id"])
    assert seen["status"] == "PROCESSING"
    assert seen["cancel_requested"] is True


def test_heartbeat_after_a_cancel_request_tells_the_executor_and_cancels_the_task(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    assert (
        executor.heartbeat(task["id"], claim["lease_token"], progress=10).json()["cancel"] is False
    )
    cancel(http, task["id"])

    response = executor.heartbeat(task["id"], claim["lease_token"], progress=20)

    assert response.status_code == 200
    assert response.json()["cancel"] is True
    ended = get_task(http, task["id"])
    assert ended["status"] == "CANCELLED"
    assert ended["finished_at"] is not None


def test_result_upload_after_the_cancel_was_delivered_is_409(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    cancel(http, task["id"])
    assert executor.heartbeat(task["id"], claim["lease_token"]).json()["cancel"] is True

    response = executor.upload_result(task["id"], claim["lease_token"], result_bytes)

    assert response.status_code == 409
    ended = get_task(http, task["id"])
    assert ended["status"] == "CANCELLED"
    assert ended["result"] is None


def test_cancelling_a_finished_task_is_409(
    http: httpx.Client, video: Path, make_executor, result_bytes
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    executor.finish(executor.claim_one(), result_bytes)

    response = cancel(http, task["id"])

    assert response.status_code == 409
    assert response.json()["detail"]
    assert get_task(http, task["id"])["status"] == "FINISHED"


def test_deleting_a_finished_task_removes_it_and_its_files(
    live: LiveService, http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    executor.finish(executor.claim_one(), result_bytes)
    assert live.task_dir(task["id"]).is_dir()

    response = http.delete(f"/api/tasks/{task['id']}")

    assert response.status_code == 204
    assert http.get(f"/api/tasks/{task['id']}").status_code == 404
    assert http.get(f"/api/tasks/{task['id']}/result").status_code == 404
    assert not live.task_dir(task["id"]).exists()
    assert folders_under(live.data_dir / "tasks") == []


def test_deleting_a_processing_task_is_409_and_keeps_it(
    live: LiveService, http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()

    response = http.delete(f"/api/tasks/{task['id']}")

    assert response.status_code == 409
    assert get_task(http, task["id"])["status"] == "PROCESSING"
    assert executor.download_input(task["id"], claim["lease_token"]).content == video.read_bytes()
