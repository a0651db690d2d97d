"""A task's whole life over HTTP: submit → claim → input → heartbeat → result → download."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from shared.contract import ClaimResponse, HeartbeatResponse, ResultAck, Routes, TaskPublic
from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import ScriptedExecutor, sha256_of


def test_submitted_task_is_queued_with_the_input_size_and_sha256(
    http: httpx.Client, video: Path
) -> None:
    data = video.read_bytes()

    task = TaskPublic.model_validate(submit_ok(http, video, options={"inpainter": "telea"}))

    assert task.status == "QUEUED"
    assert task.input is not None
    assert task.input.size == len(data)
    assert task.input.sha256 == hashlib.sha256(data).hexdigest()
    assert task.options == {"inpainter": "telea"}
    assert task.attempts == 0
    assert task.progress == 0
    assert TaskPublic.model_validate(get_task(http, task.id)) == task


def test_claim_hands_out_the_queued_task_with_a_lease(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video, options={"inpainter": "telea"})
    executor = make_executor()

    response = executor.claim()

    assert response.status_code == 200
    claim = ClaimResponse.model_validate(response.json())
    assert claim.task_id == task["id"]
    assert claim.attempt == 1
    assert claim.lease_token
    assert claim.heartbeat_s > 0
    assert claim.input.size == task["input"]["size"]
    assert claim.input.sha256 == task["input"]["sha256"]
    assert claim.options == {"inpainter": "telea"}


def test_claim_with_nothing_queued_answers_204(make_executor) -> None:
    response = make_executor().claim()

    assert response.status_code == 204
    assert response.content == b""


def test_claim_long_polls_and_wakes_up_when_a_task_arrives(
    http: httpx.Client, video: Path, make_executor
) -> None:
    import threading
    import time

    executor = make_executor()
    answers: list[httpx.Response] = []
    waiter = threading.Thread(target=lambda: answers.append(executor.claim(wait_s=10)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.5)
    task = submit_ok(http, video)
    waiter.join(timeout=15)

    assert answers and answers[0].status_code == 200
    assert answers[0].json()["task_id"] == task["id"]
    assert time.monotonic() - started < 8


def test_input_download_with_the_lease_token_is_byte_identical(
    http: httpx.Client, video: Path, make_executor
) -> None:
    submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()

    response = executor.download_input(claim["task_id"], claim["lease_token"])

    assert response.status_code == 200
    assert response.content == video.read_bytes()


def test_input_download_honours_a_range(http: httpx.Client, video: Path, make_executor) -> None:
    submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()

    response = executor.download_input(claim["task_id"], claim["lease_token"], range_="bytes=10-19")

    assert response.status_code == 206
    assert response.content == video.read_bytes()[10:20]
    assert response.headers["content-range"] == f"bytes 10-19/{video.stat().st_size}"


def test_heartbeat_records_progress_and_stage_on_the_task(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)
    executor = make_executor("ET-SoraWM-7")
    claim = executor.claim_one()

    response = executor.heartbeat(
        task["id"], claim["lease_token"], progress=42.5, stage="detect", message="frame 5"
    )

    assert response.status_code == 200
    beat = HeartbeatResponse.model_validate(response.json())
    assert beat.cancel is False
    assert beat.lease_expires_at >= claim_expiry(claim)
    seen = get_task(http, task["id"])
    assert seen["status"] == "PROCESSING"
    assert seen["progress"] == 42.5
    assert seen["stage"] == "detect"
    assert seen["message"] == "frame 5"
    assert seen["executor_id"] == "ET-SoraWM-7"
    assert seen["attempts"] == 1
    assert seen["started_at"] is not None


def test_result_upload_finishes_the_task(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()

    response = executor.upload_result(task["id"], claim["lease_token"], result_bytes)

    assert response.status_code == 200
    ack = ResultAck.model_validate(response.json())
    assert ack.task_id == task["id"]
    assert ack.status == "FINISHED"
    assert ack.result.sha256 == sha256_of(result_bytes)
    assert ack.result.size == len(result_bytes)
    seen = get_task(http, task["id"])
    assert seen["status"] == "FINISHED"
    assert seen["progress"] == 100
    assert seen["result"] == {"size": len(result_bytes), "sha256": sha256_of(result_bytes)}
    assert seen["finished_at"] is not None


def finished_task(
    http: httpx.Client, video: Path, executor: ScriptedExecutor, result: bytes
) -> str:
    task = submit_ok(http, video)
    executor.finish(executor.claim_one(), result)
    return str(task["id"])


def test_result_download_is_byte_identical_with_the_sha256_as_etag(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task_id = finished_task(http, video, make_executor(), result_bytes)

    response = http.get(Routes.TASK_RESULT.format(task_id=task_id))

    assert response.status_code == 200
    assert response.content == result_bytes
    assert response.headers["etag"] == f'"{sha256_of(result_bytes)}"'


def test_result_download_honours_a_range(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task_id = finished_task(http, video, make_executor(), result_bytes)

    response = http.get(
        Routes.TASK_RESULT.format(task_id=task_id), headers={"Range": "bytes=10-19"}
    )

    assert response.status_code == 206
    assert response.content == result_bytes[10:20]


def test_result_download_with_a_matching_etag_answers_304(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task_id = finished_task(http, video, make_executor(), result_bytes)

    response = http.get(
        Routes.TASK_RESULT.format(task_id=task_id),
        headers={"If-None-Match": f'"{sha256_of(result_bytes)}"'},
    )

    assert response.status_code == 304
    assert response.content == b""


def test_result_asked_before_the_task_finished_is_409(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)
    assert http.get(Routes.TASK_RESULT.format(task_id=task["id"])).status_code == 409

    make_executor().claim_one()

    response = http.get(Routes.TASK_RESULT.format(task_id=task["id"]))
    assert response.status_code == 409
    assert response.json()["detail"]


def test_unknown_task_id_is_404_on_every_client_route(http: httpx.Client) -> None:
    unknown = "0" * 32
    for method, route in [
        ("GET", Routes.TASK),
        ("GET", Routes.TASK_RESULT),
        ("POST", Routes.TASK_CANCEL),
        ("DELETE", Routes.TASK),
        ("GET", Routes.TASK_EVENTS),
    ]:
        response = http.request(method, route.format(task_id=unknown))
        assert response.status_code == 404, f"{method} {route} answered {response.status_code}"
        assert response.json()["detail"]


def claim_expiry(claim: dict) -> object:
    return ClaimResponse.model_validate(claim).lease_expires_at
