"""Leases run out when an executor stops beating: the task goes back to the queue, and the
old executor's writes are fenced off (409) so the task is finished exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.client import get_task, submit_ok, wait_for_status
from tests.fixtures.executor import ScriptedExecutor, sha256_of
from tests.fixtures.live_service import LiveService

FAST_LEASES = {"SORAWM_LEASE_SECONDS": "1", "SORAWM_MAINTENANCE_INTERVAL_S": "0.2"}


@pytest.fixture
def fast(service) -> LiveService:
    return service(**FAST_LEASES, SORAWM_MAX_ATTEMPTS="3")


@pytest.fixture
def executors(fast: LiveService):
    one = ScriptedExecutor(fast.url, "ET-SoraWM-1")
    two = ScriptedExecutor(fast.url, "ET-SoraWM-2")
    yield one, two
    one.close()
    two.close()


def test_expired_lease_returns_the_task_to_the_queue_with_the_attempt_counted(
    fast: LiveService, executors, video: Path
) -> None:
    one, _two = executors
    with fast.client() as http:
        task = submit_ok(http, video)
        claim = one.claim_one()
        assert claim["attempt"] == 1

        requeued = wait_for_status(http, task["id"], "QUEUED", timeout=10)

    assert requeued["attempts"] == 1
    assert requeued["error"] is None


def test_second_claim_after_an_expired_lease_is_attempt_two(
    fast: LiveService, executors, video: Path
) -> None:
    one, two = executors
    with fast.client() as http:
        task = submit_ok(http, video)
        one.claim_one()
        wait_for_status(http, task["id"], "QUEUED", timeout=10)

        claim = two.claim_one()

        assert claim["task_id"] == task["id"]
        assert claim["attempt"] == 2
        seen = get_task(http, task["id"])
        assert seen["attempts"] == 2
        assert seen["executor_id"] == "ET-SoraWM-2"


def test_zombie_executor_is_fenced_off_after_its_lease_went_to_another(
    fast: LiveService, executors, video: Path, result_bytes: bytes
) -> None:
    one, two = executors
    zombie_result = result_bytes + b"zombie"
    with fast.client() as http:
        task = submit_ok(http, video)
        old = one.claim_one()
        wait_for_status(http, task["id"], "QUEUED", timeout=10)
        new = two.claim_one()
        two.finish(new, result_bytes)
        finished = get_task(http, task["id"])

        assert one.heartbeat(task["id"], old["lease_token"], progress=99).status_code == 409
        assert one.upload_result(task["id"], old["lease_token"], zombie_result).status_code == 409
        assert one.fail(task["id"], old["lease_token"], "zombie gives up").status_code == 409

        assert get_task(http, task["id"]) == finished
        assert finished["status"] == "FINISHED"
        assert finished["result"]["sha256"] == sha256_of(result_bytes)
        assert http.get(f"/api/tasks/{task['id']}/result").content == result_bytes


def test_zombie_result_while_the_new_lease_is_live_is_409(
    fast: LiveService, executors, video: Path, result_bytes: bytes
) -> None:
    one, two = executors
    with fast.client() as http:
        task = submit_ok(http, video)
        old = one.claim_one()
        wait_for_status(http, task["id"], "QUEUED", timeout=10)
        new = two.claim_one()

        assert one.upload_result(task["id"], old["lease_token"], result_bytes).status_code == 409

        seen = get_task(http, task["id"])
        assert seen["status"] == "PROCESSING"
        assert seen["executor_id"] == "ET-SoraWM-2"
        assert seen["result"] is None
        assert two.heartbeat(task["id"], new["lease_token"], progress=10).status_code == 200


def test_heartbeats_keep_the_lease_alive_past_its_length(
    fast: LiveService, executors, video: Path
) -> None:
    import time

    one, _two = executors
    with fast.client() as http:
        task = submit_ok(http, video)
        claim = one.claim_one()
        for step in range(12):  # 2.4 s, over twice the 1 s lease
            assert (
                one.heartbeat(task["id"], claim["lease_token"], progress=step * 5).status_code
                == 200
            )
            time.sleep(0.2)

        seen = get_task(http, task["id"])
        assert seen["status"] == "PROCESSING"
        assert seen["attempts"] == 1


def test_lease_expiring_past_max_attempts_ends_the_task_in_error(service, video: Path) -> None:
    live = service(**FAST_LEASES, SORAWM_MAX_ATTEMPTS="2")
    with live.client() as http, ScriptedExecutor(live.url, "ET-SoraWM-1") as executor:
        task = submit_ok(http, video)
        assert executor.claim_one()["attempt"] == 1
        wait_for_status(http, task["id"], "QUEUED", timeout=10)
        assert executor.claim_one()["attempt"] == 2

        ended = wait_for_status(http, task["id"], "ERROR", timeout=10)

        assert ended["attempts"] == 2
        assert ended["error"]
        assert "lease" in ended["error"].lower() or "executor" in ended["error"].lower()
        assert executor.claim().status_code == 204


def test_retryable_failure_requeues_while_attempts_remain(service, video: Path) -> None:
    live = service(SORAWM_MAX_ATTEMPTS="2")
    with live.client() as http, ScriptedExecutor(live.url, "ET-SoraWM-1") as executor:
        task = submit_ok(http, video)
        claim = executor.claim_one()

        response = executor.fail(
            task["id"], claim["lease_token"], "CUDA out of memory", retryable=True
        )

        assert response.status_code == 200
        assert response.json() == {"status": "QUEUED", "attempts": 1, "cooldown_s": 0.0}
        assert get_task(http, task["id"])["status"] == "QUEUED"
        assert executor.claim_one()["attempt"] == 2


def test_retryable_failure_on_the_last_attempt_ends_in_error(service, video: Path) -> None:
    live = service(SORAWM_MAX_ATTEMPTS="2")
    with live.client() as http, ScriptedExecutor(live.url, "ET-SoraWM-1") as executor:
        task = submit_ok(http, video)
        first = executor.claim_one()
        assert (
            executor.fail(task["id"], first["lease_token"], "transient", retryable=True).status_code
            == 200
        )
        second = executor.claim_one()

        response = executor.fail(
            task["id"], second["lease_token"], "transient again", retryable=True
        )

        assert response.status_code == 200
        assert response.json()["status"] == "ERROR"
        ended = get_task(http, task["id"])
        assert ended["status"] == "ERROR"
        assert "transient again" in ended["error"]


def test_non_retryable_failure_ends_the_task_in_error_with_that_text(
    http, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()

    response = executor.fail(
        task["id"], claim["lease_token"], "input is not a video: no video stream found"
    )

    assert response.status_code == 200
    assert response.json() == {"status": "ERROR", "attempts": 1, "cooldown_s": 0.0}
    ended = get_task(http, task["id"])
    assert ended["status"] == "ERROR"
    assert ended["error"] == "input is not a video: no video stream found"
    assert ended["finished_at"] is not None
    assert executor.claim().status_code == 204
