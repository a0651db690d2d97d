"""Every executor write carries its lease token; a wrong or old one is 409 and changes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import sha256_of

WRONG_TOKEN = "not-the-lease-token"


@pytest.fixture
def processing(http: httpx.Client, video: Path, make_executor) -> tuple[dict, object, dict]:
    """A task claimed by one executor that has beaten once at 30 %: (task, executor, claim)."""
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    assert (
        executor.heartbeat(
            task["id"], claim["lease_token"], progress=30, stage="detect"
        ).status_code
        == 200
    )
    return get_task(http, task["id"]), executor, claim


def unchanged(http: httpx.Client, before: dict) -> None:
    after = get_task(http, before["id"])
    assert after == before


def test_same_result_upload_again_is_200_and_changes_nothing(
    http: httpx.Client, processing, result_bytes: bytes
) -> None:
    task, executor, claim = processing
    first = executor.upload_result(task["id"], claim["lease_token"], result_bytes)
    assert first.status_code == 200
    finished = get_task(http, task["id"])

    again = executor.upload_result(task["id"], claim["lease_token"], result_bytes)

    assert again.status_code == 200
    assert again.json() == first.json()
    unchanged(http, finished)
    assert http.get(f"/api/tasks/{task['id']}/result").content == result_bytes


def test_result_upload_with_a_hash_mismatch_is_422_and_the_task_stays_processing(
    http: httpx.Client, processing, result_bytes: bytes
) -> None:
    task, executor, claim = processing

    response = executor.upload_result(
        task["id"], claim["lease_token"], result_bytes, sha256="0" * 64
    )

    assert response.status_code == 422
    assert response.json()["detail"]
    after = get_task(http, task["id"])
    assert after["status"] == "PROCESSING"
    assert after["result"] is None
    assert http.get(f"/api/tasks/{task['id']}/result").status_code == 409


def test_result_upload_after_a_hash_mismatch_can_still_succeed(
    http: httpx.Client, processing, result_bytes: bytes
) -> None:
    task, executor, claim = processing
    assert (
        executor.upload_result(
            task["id"], claim["lease_token"], result_bytes, sha256="0" * 64
        ).status_code
        == 422
    )

    response = executor.upload_result(task["id"], claim["lease_token"], result_bytes)

    assert response.status_code == 200
    assert http.get(f"/api/tasks/{task['id']}/result").content == result_bytes


def test_heartbeat_with_a_wrong_lease_token_is_409_and_changes_nothing(
    http: httpx.Client, processing
) -> None:
    task, executor, _claim = processing

    response = executor.heartbeat(task["id"], WRONG_TOKEN, progress=90, stage="encode")

    assert response.status_code == 409
    unchanged(http, task)


def test_input_download_with_a_wrong_lease_token_is_409(http: httpx.Client, processing) -> None:
    task, executor, _claim = processing

    assert executor.download_input(task["id"], WRONG_TOKEN).status_code == 409
    unchanged(http, task)


def test_input_download_without_a_lease_token_is_refused(http: httpx.Client, processing) -> None:
    task, _executor, _claim = processing

    response = http.get(f"/api/tasks/{task['id']}/input")

    assert response.status_code in (409, 422)
    assert b"ftyp" not in response.content[:64]  # never the video itself


def test_result_upload_with_a_wrong_lease_token_is_409_and_changes_nothing(
    http: httpx.Client, processing, result_bytes: bytes
) -> None:
    task, executor, _claim = processing

    response = executor.upload_result(task["id"], WRONG_TOKEN, result_bytes)

    assert response.status_code == 409
    unchanged(http, task)
    assert http.get(f"/api/tasks/{task['id']}/result").status_code == 409


def test_fail_with_a_wrong_lease_token_is_409_and_changes_nothing(
    http: httpx.Client, processing
) -> None:
    task, executor, _claim = processing

    response = executor.fail(task["id"], WRONG_TOKEN, "boom", retryable=False)

    assert response.status_code == 409
    unchanged(http, task)


def test_writes_with_the_lease_token_of_a_finished_task_are_409(
    http: httpx.Client, processing, result_bytes: bytes
) -> None:
    task, executor, claim = processing
    token = claim["lease_token"]
    assert executor.upload_result(task["id"], token, result_bytes).status_code == 200
    finished = get_task(http, task["id"])

    assert executor.heartbeat(task["id"], token, progress=10).status_code == 409
    assert executor.fail(task["id"], token, "late failure").status_code == 409
    other = result_bytes + b"\0"
    assert executor.upload_result(task["id"], token, other).status_code == 409
    unchanged(http, finished)
    assert http.get(f"/api/tasks/{task['id']}/result").content == result_bytes
    assert sha256_of(result_bytes) == finished["result"]["sha256"]


def test_a_lease_token_of_one_task_does_not_open_another(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    first = submit_ok(http, video)
    second = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    other_id = second["id"] if claim["task_id"] == first["id"] else first["id"]

    assert executor.heartbeat(other_id, claim["lease_token"], progress=5).status_code == 409
    assert executor.download_input(other_id, claim["lease_token"]).status_code == 409
    assert executor.upload_result(other_id, claim["lease_token"], result_bytes).status_code == 409
    assert get_task(http, other_id)["status"] == "QUEUED"
