"""`GET /api/executors`: the fleet as the service knows it from claims and heartbeats."""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.contract import ExecutorPublic
from tests.fixtures.client import submit_ok


def fleet(http: httpx.Client) -> dict[str, ExecutorPublic]:
    response = http.get("/api/executors")
    assert response.status_code == 200, response.text
    return {e.id: e for e in (ExecutorPublic.model_validate(item) for item in response.json())}


def test_executors_are_listed_with_their_work_and_counts(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    for _ in range(3):
        submit_ok(http, video)
    busy, done, failed = (
        make_executor("ET-SoraWM-1"),
        make_executor("ET-SoraWM-2"),
        make_executor("ET-SoraWM-3"),
    )
    gpu = {"device": "cuda:0", "gpu_name": "NVIDIA H100", "vram_mb": 81559}
    busy_claim = busy.claim(capabilities=gpu).json()
    busy.heartbeat(busy_claim["task_id"], busy_claim["lease_token"], progress=33)
    done.finish(done.claim_one(), result_bytes)
    failed_claim = failed.claim_one()
    failed.fail(failed_claim["task_id"], failed_claim["lease_token"], "engine crashed")

    executors = fleet(http)

    assert set(executors) == {"ET-SoraWM-1", "ET-SoraWM-2", "ET-SoraWM-3"}
    one = executors["ET-SoraWM-1"]
    assert one.online and one.busy
    assert one.current_task_id == busy_claim["task_id"]
    assert one.current_progress == 33
    assert one.capabilities["gpu_name"] == "NVIDIA H100"
    assert one.capabilities["vram_mb"] == 81559
    two = executors["ET-SoraWM-2"]
    assert two.online and not two.busy
    assert two.current_task_id is None
    assert (two.done, two.failed) == (1, 0)
    three = executors["ET-SoraWM-3"]
    assert (three.done, three.failed) == (0, 1)
    assert not three.busy


def test_an_executor_that_only_polled_is_known_and_idle(http: httpx.Client, make_executor) -> None:
    assert make_executor("ET-SoraWM-9").claim().status_code == 204

    executors = fleet(http)

    assert executors["ET-SoraWM-9"].online
    assert not executors["ET-SoraWM-9"].busy
