"""Two service processes on one PostgreSQL and one file store, as replicas behind a load
balancer run: work submitted to one wakes a claim waiting on the other at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.fixtures.client import submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService

# The maintenance sweep, the slow fallback that also finds work queued elsewhere, is held off
# past the claims' wait: only the replicas' own notices can wake them in time.
SLOW_SWEEP = {"SORAWM_MAINTENANCE_INTERVAL_S": "60"}


@pytest.fixture
def replicas(service, tmp_path: Path) -> Iterator[tuple[LiveService, LiveService]]:
    first = service(**SLOW_SWEEP)
    second = first.replica(tmp_path / "replica").start()
    yield first, second
    second.kill()


def _claim_in_background(executor: ScriptedExecutor, wait_s: float) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    threading.Thread(target=lambda: answers.append(executor.claim(wait_s=wait_s))).start()
    return answers


def _wait_for(answers: list[httpx.Response], timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while not answers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answers, f"no answer within {timeout} s"
    return answers[0]


def _terminate_listeners(database_url: str) -> int:
    """Cut every replica's LISTEN connection from the server side; how many were cut."""

    async def terminate() -> int:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return int(
                await connection.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN %' AND datname = current_database()"
                )
            )
        finally:
            await connection.close()

    # its own thread: a browser test may have left an event loop running in this one
    cut: list[int] = []
    worker = threading.Thread(target=lambda: cut.append(asyncio.run(terminate())))
    worker.start()
    worker.join()
    return cut[0]


def _submit_wakes_the_other_replica(
    first: LiveService, second: LiveService, video: Path
) -> tuple[httpx.Response, str, float]:
    """A claim waits on `second`, a task is submitted to `first`: (answer, task id, seconds)."""
    with ScriptedExecutor(second.url) as executor, first.client() as http:
        answers = _claim_in_background(executor, wait_s=20)
        time.sleep(1.0)  # the claim is waiting on the second replica
        submitted = time.monotonic()
        task = submit_ok(http, video)
        answer = _wait_for(answers, timeout=25)
        return answer, task["id"], time.monotonic() - submitted


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_submit_to_one_replica_wakes_a_claim_waiting_on_the_other(
    replicas: tuple[LiveService, LiveService], video: Path
) -> None:
    answer, task_id, took = _submit_wakes_the_other_replica(*replicas, video)

    assert answer.status_code == 200
    assert answer.json()["task_id"] == task_id
    assert took < 5  # not the 20 s wait's end, nor the 60 s sweep


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_replica_listens_again_after_losing_its_connection(
    replicas: tuple[LiveService, LiveService], video: Path
) -> None:
    first, second = replicas
    assert _terminate_listeners(first.database_url) == 2
    time.sleep(3.0)  # each replica reconnects within about a second

    answer, task_id, took = _submit_wakes_the_other_replica(first, second, video)

    assert answer.status_code == 200
    assert answer.json()["task_id"] == task_id
    assert took < 5


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_task_handed_back_on_one_replica_wakes_a_claim_waiting_on_the_other(
    replicas: tuple[LiveService, LiveService], video: Path
) -> None:
    first, second = replicas
    with first.client() as http:
        submit_ok(http, video)
    with (
        ScriptedExecutor(first.url, "ET-SoraWM-1") as holder,
        ScriptedExecutor(second.url, "ET-SoraWM-2") as waiter,
    ):
        claim = holder.claim_one()
        answers = _claim_in_background(waiter, wait_s=20)
        time.sleep(1.0)
        handed_back = time.monotonic()
        failed = holder.fail(
            claim["task_id"], claim["lease_token"], "shutting down", retryable=True
        )
        assert failed.status_code == 200
        answer = _wait_for(answers, timeout=25)
        took = time.monotonic() - handed_back

    assert answer.status_code == 200
    assert answer.json()["task_id"] == claim["task_id"]
    assert took < 5
