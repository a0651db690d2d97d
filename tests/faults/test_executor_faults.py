"""Tell "this executor cannot" from "this task is bad": a broken executor does not drive the
queue to ERROR, and a task that fails on every executor still ends in ERROR with the reasons."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.executor_process import ExecutorProcess
from tests.fixtures.live_service import LiveService
from tests.fixtures.standin import Recorder, claim_answer, wait_until

TASK_ID = "0123456789abcdef0123456789abcdef"


def executor_fault(executor: ScriptedExecutor, claim: dict[str, Any], error: str) -> httpx.Response:
    return executor.http.post(
        f"/api/tasks/{claim['task_id']}/fail",
        json={
            "lease_token": claim["lease_token"],
            "error": error,
            "retryable": True,
            "executor_fault": True,
        },
    )


def test_a_broken_executor_does_not_use_up_the_queue(
    live: LiveService,
    http: httpx.Client,
    make_video: Callable[..., Path],
    make_executor: Callable[..., ScriptedExecutor],
    result_bytes: bytes,
) -> None:
    tasks = [submit_ok(http, make_video()) for _ in range(3)]
    broken, healthy = make_executor("broken"), make_executor("healthy")
    # the broken one claims first and fails at once, on its own account
    answer = executor_fault(broken, broken.claim_one(), "not enough free disk")
    assert answer.status_code == 200
    assert answer.json()["status"] == "QUEUED"
    assert 25 < answer.json()["cooldown_s"] <= 30  # the default first cool-down, running
    assert broken.claim().status_code == 204  # cooling down: nothing for it
    for _ in tasks:
        healthy.finish(healthy.claim_one(), result_bytes)

    ended = [get_task(http, task["id"]) for task in tasks]
    assert [task["status"] for task in ended] == ["FINISHED"] * 3
    assert sorted(task["attempts"] for task in ended) == [1, 1, 1]  # the fault cost none
    fleet = {executor["id"]: executor for executor in http.get("/api/executors").json()}
    assert fleet["broken"]["faults"] == 1 and fleet["broken"]["cooldown_until"] is not None
    assert fleet["broken"]["last_fault"] == "not enough free disk"


def test_a_poison_task_that_fails_on_every_executor_ends_in_error_with_the_reasons(
    service: Callable[..., LiveService],
    video: Path,
) -> None:
    live = service(SORAWM_EXECUTOR_FAULT_LIMIT="3")
    with live.client() as http:
        task = submit_ok(http, video)
        for number in range(3):
            with ScriptedExecutor(live.url, f"ex-{number}") as executor:
                claim = executor.claim_one()
                assert executor_fault(executor, claim, f"out of memory {number}").status_code == 200
        ended = get_task(http, task["id"])

    assert ended["status"] == "ERROR"
    assert ended["error"].startswith("no executor could run it (3 executor faults)")
    assert all(f"ex-{n}: out of memory {n}" in ended["error"] for n in range(3))


def test_the_agent_reports_a_full_disk_as_its_own_fault_and_waits_out_its_cooldown(
    tmp_path: Path,
) -> None:
    huge = claim_answer(TASK_ID, f"/api/tasks/{TASK_ID}/input")
    huge["input"] = huge["input"] | {"size": 2**60}  # more than any disk has free
    service = Recorder(
        {
            "claim": [(200, huge)],
            "fail": [(200, {"status": "QUEUED", "attempts": 0, "cooldown_s": 2.0})],
        }
    )
    executor = ExecutorProcess(
        service_url=service.url, number=9, workdir=tmp_path, args=["--poll-wait", "0.2"]
    )
    try:
        executor.start()

        def next_claim() -> list[dict[str, str]]:
            return [seen for seen in service.seen if seen["path"].endswith("/claim")][1:]

        assert wait_until(lambda: bool(next_claim()), timeout=30), executor.log_path.read_text()
    finally:
        executor.kill()
        service.close()

    [failure] = [seen for seen in service.seen if seen["path"].endswith("/fail")]
    report = json.loads(failure["body"])
    assert report["executor_fault"] is True and "not enough free disk" in report["error"]
    assert float(next_claim()[0]["at"]) - float(failure["at"]) >= 2.0  # it waited, then asked
