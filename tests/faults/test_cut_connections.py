"""Connections cut in the middle: an executor SIGKILLed mid-download, a download dropped and
resumed by `Range`, a replica SIGKILLed under a parked claim. Each task still ends FINISHED
exactly once, with its own result, and nothing is left behind."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shared.contract import Headers, Routes
from tests.fixtures.client import get_task, submit_ok, wait_for_status
from tests.fixtures.executor import ScriptedExecutor, sha256_of
from tests.fixtures.live_service import LiveService

# a separate process that reads the first bytes of its input, then waits to be killed
HALF_DOWNLOAD = textwrap.dedent(
    """
    import sys, time, httpx
    url, task_id, token = sys.argv[1:4]
    with httpx.stream("GET", f"{url}/api/tasks/{task_id}/input",
                      headers={"X-Lease-Token": token}, timeout=3600) as response:
        next(response.iter_raw(1024))
        print("reading", flush=True)
        time.sleep(3600)
    """
)


def test_an_executor_killed_mid_download_costs_its_lease_and_nothing_else(
    service: Callable[..., LiveService],
    make_video: Callable[..., Path],
    result_bytes: bytes,
) -> None:
    live = service(SORAWM_LEASE_SECONDS="2", SORAWM_MAINTENANCE_INTERVAL_S="0.2")
    video = make_video(width=320, height=240, frames=48)  # some hundreds of KB
    with live.client() as http:
        task = submit_ok(http, video)
        with ScriptedExecutor(live.url, "doomed") as doomed:
            claim = doomed.claim_one()
        reader = subprocess.Popen(
            [sys.executable, "-c", HALF_DOWNLOAD, live.url, task["id"], claim["lease_token"]],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert reader.stdout is not None and reader.stdout.readline().strip() == "reading"
        reader.send_signal(signal.SIGKILL)
        reader.wait(timeout=10)
        reader.stdout.close()

        wait_for_status(http, task["id"], "QUEUED", timeout=20)
        with ScriptedExecutor(live.url, "healthy") as healthy:
            second = healthy.claim_one()
            data = healthy.download_input(task["id"], second["lease_token"]).content
            assert data == video.read_bytes()  # the input is whole for the next one
            healthy.finish(second, result_bytes)
        done = get_task(http, task["id"])
    assert (done["status"], done["attempts"], done["executor_id"]) == ("FINISHED", 2, "healthy")
    assert done["result"]["sha256"] == sha256_of(result_bytes)


def test_a_download_dropped_midway_is_resumed_by_range_to_the_same_bytes(
    live: LiveService, http: httpx.Client, make_video: Callable[..., Path]
) -> None:
    video = make_video(width=320, height=240, frames=48)
    task = submit_ok(http, video)
    with ScriptedExecutor(live.url) as executor:
        claim = executor.claim_one()
        headers = {Headers.LEASE_TOKEN: claim["lease_token"]}
        url = f"{live.url}{Routes.TASK_INPUT.format(task_id=task['id'])}"
        head = b""
        with httpx.Client() as cut, cut.stream("GET", url, headers=headers) as response:
            for chunk in response.iter_raw(1024):
                head += chunk
                if len(head) >= 20_000:
                    break  # the connection is dropped here, mid-body
        rest = executor.download_input(
            task["id"], claim["lease_token"], range_=f"bytes={len(head)}-"
        )

    assert rest.status_code == 206
    assert hashlib.sha256(head + rest.content).hexdigest() == sha256_of(video.read_bytes())


@pytest.fixture
def backend() -> str:
    return "postgres"  # only the last test needs it, but a module has one backend fixture


def test_a_claim_parked_on_a_replica_that_dies_is_made_again_on_the_other(
    service: Callable[..., LiveService], tmp_path: Path, video: Path, result_bytes: bytes
) -> None:
    doomed = service(SORAWM_MAINTENANCE_INTERVAL_S="0.2")
    survivor = doomed.replica(tmp_path / "replica").start()
    try:
        answers: list[object] = []
        body = {"executor_id": "steady", "capabilities": {"device": "cpu"}, "wait_s": 20}

        def park() -> None:
            try:
                answers.append(httpx.post(f"{doomed.url}{Routes.CLAIM}", json=body, timeout=30))
            except httpx.HTTPError as exc:
                answers.append(exc)

        parked = threading.Thread(target=park)
        parked.start()
        assert doomed.process is not None
        threading.Event().wait(1.0)
        doomed.process.send_signal(signal.SIGKILL)
        parked.join(timeout=30)
        assert len(answers) == 1 and isinstance(answers[0], httpx.HTTPError)  # told, not hung

        with survivor.client() as http, ScriptedExecutor(survivor.url, "steady") as executor:
            task = submit_ok(http, video)
            executor.finish(executor.claim_one(wait_s=5), result_bytes)
            done = get_task(http, task["id"])
        assert (done["status"], done["attempts"]) == ("FINISHED", 1)
    finally:
        survivor.kill()
