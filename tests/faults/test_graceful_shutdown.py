"""SIGTERM: the service takes no new connections, lets the upload in flight finish, then ends,
and a running task's lease is left to its executor across the restart."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService

BOUNDARY = "graceful"


def slow_submit(video: bytes, seconds: float) -> Iterator[bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    parts = [
        head + video[: len(video) // 2],
        video[len(video) // 2 :] + f"\r\n--{BOUNDARY}--\r\n".encode(),
    ]
    for index, part in enumerate(parts):
        if index:
            time.sleep(seconds)
        yield part


def test_sigterm_lets_an_upload_in_flight_finish_and_refuses_new_connections(
    service: Callable[..., LiveService], video: Path
) -> None:
    live = service(SORAWM_SHUTDOWN_TIMEOUT_S="20")
    answers: list[httpx.Response] = []

    def upload() -> None:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            answers.append(
                client.post(
                    Routes.TASKS,
                    content=slow_submit(video.read_bytes(), 3.0),
                    headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                )
            )

    sender = threading.Thread(target=upload)
    sender.start()
    time.sleep(1.0)  # the upload is under way
    assert live.process is not None
    live.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{live.url}{Routes.LIVE}", timeout=2)
    sender.join(timeout=30)
    code = live.process.wait(timeout=30)

    assert [answer.status_code for answer in answers] == [201], answers and answers[0].text
    # uvicorn re-raises the signal once its graceful shutdown is over: "ended on request"
    assert code in (0, -signal.SIGTERM)
    live.start()
    with live.client() as http:
        assert get_task(http, answers[0].json()["id"])["status"] == "QUEUED"


def test_a_running_lease_outlives_a_service_restart(
    live: LiveService, video: Path, result_bytes: bytes
) -> None:
    with live.client() as http:
        task = submit_ok(http, video)
    executor = ScriptedExecutor(live.url, "steady")
    claim = executor.claim_one()
    executor.close()
    live.restart()
    with ScriptedExecutor(live.url, "steady") as executor, live.client() as http:
        assert executor.heartbeat(task["id"], claim["lease_token"], progress=50).status_code == 200
        executor.finish(claim, result_bytes)
        done = get_task(http, task["id"])
    assert (done["status"], done["attempts"]) == ("FINISHED", 1)
