"""Many executors at once: every task is claimed, and finished, exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.fixtures.client import list_all, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService


def test_twenty_tasks_ten_executors_each_task_claimed_and_finished_exactly_once(
    live: LiveService, http: httpx.Client, video: Path, result_bytes: bytes
) -> None:
    task_ids = [submit_ok(http, video)["id"] for _ in range(20)]
    seen: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(10)

    def work(number: int) -> None:
        with ScriptedExecutor(live.url, f"ET-SoraWM-{number}") as executor:
            start.wait()
            while True:
                response = executor.claim()
                if response.status_code == 204:
                    return
                if response.status_code != 200:
                    errors.append(f"claim answered {response.status_code}: {response.text}")
                    return
                claim = response.json()
                with lock:
                    seen.append(claim["task_id"])
                upload = executor.upload_result(
                    claim["task_id"], claim["lease_token"], result_bytes
                )
                if upload.status_code != 200:
                    errors.append(f"upload answered {upload.status_code}: {upload.text}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert errors == []
    assert sorted(seen) == sorted(task_ids)
    tasks = list_all(http)
    assert sorted(t["id"] for t in tasks) == sorted(task_ids)
    assert {t["status"] for t in tasks} == {"FINISHED"}
    assert {t["attempts"] for t in tasks} == {1}


def test_five_simultaneous_claims_of_one_task_have_exactly_one_winner(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    task = submit_ok(http, video)
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    start = threading.Barrier(5)

    def claim(number: int) -> None:
        with ScriptedExecutor(live.url, f"ET-SoraWM-{number}") as executor:
            executor.http.get("/health")  # connection open before the race
            start.wait()
            response = executor.claim()
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    codes = sorted(response.status_code for response in answers)
    assert codes == [200, 204, 204, 204, 204]
    winner = next(r for r in answers if r.status_code == 200).json()
    assert winner["task_id"] == task["id"]
    assert winner["attempt"] == 1
