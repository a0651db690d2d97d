"""The agent's background threads and downloads survive what a service or a machine can do to
them: a malformed answer, a log line longer than the service takes, a full disk."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from loguru import logger

from executor.agent.client import ExecutorFault, ServiceClient
from executor.agent.heartbeat import Heartbeat
from executor.agent.logsink import LogShipper
from executor.agent.settings import ExecutorSettings
from shared.contract import MAX_LOG_MESSAGE, ClaimResponse, Routes
from tests.fixtures.client import submit_ok
from tests.fixtures.live_service import LiveService
from tests.fixtures.standin import Recorder, wait_until

TASK_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def client_of() -> Iterator[Callable[..., ServiceClient]]:
    made: list[ServiceClient] = []

    def make(url: str, **settings: object) -> ServiceClient:
        client = ServiceClient(ExecutorSettings(service_host=url, id="77", **settings))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def beats(server: Recorder) -> int:
    return sum(1 for seen in server.seen if seen["path"].endswith("/heartbeat"))


@pytest.mark.parametrize(
    "malformed",
    [b"not json at all", b'{"cancel": "maybe"}', b"[]"],
    ids=["not-json", "wrong-types", "wrong-shape"],
)
def test_a_malformed_heartbeat_answer_does_not_end_the_heartbeat(
    client_of: Callable[..., ServiceClient], malformed: bytes
) -> None:
    server = Recorder({"heartbeat": [(200, malformed), (200, malformed)]})
    try:
        beat = Heartbeat(client_of(server.url), task_id=TASK_ID, lease_token="t", interval=0.1)
        with beat:
            went_on = wait_until(lambda: beats(server) >= 4, timeout=10)
            alive = beat._thread.is_alive()
    finally:
        server.close()
    assert (went_on, alive, beat.stop.is_set()) == (True, True, False)


def test_a_log_line_longer_than_the_service_takes_arrives_cut_and_later_lines_still_arrive(
    live: LiveService, http: httpx.Client, client_of: Callable[..., ServiceClient]
) -> None:
    shipper = LogShipper(client_of(live.url))
    shipper.start()
    try:
        logger.info("long-line " + "x" * (MAX_LOG_MESSAGE * 2))
        logger.info("the line after the long one")
        shipper._stop.set()
    finally:
        shipper.close()

    def messages() -> list[str]:
        answer = http.get(Routes.ADMIN_LOGS, params={"executor_id": "ET-SoraWM-77"})
        return [item["message"] for item in answer.json()["items"]]

    assert wait_until(lambda: len(messages()) >= 2, timeout=10), messages()
    after, long = messages()[:2]  # newest first
    assert after == "the line after the long one"
    assert long.startswith("long-line xxx") and len(long) <= MAX_LOG_MESSAGE
    assert "characters cut" in long


def test_a_full_disk_while_downloading_is_the_executors_fault_not_a_crash(
    live: LiveService,
    http: httpx.Client,
    video: Path,
    client_of: Callable[..., ServiceClient],
    tmp_path: Path,
) -> None:
    submit_ok(http, video)
    client = client_of(live.url)
    answer = client.http.post(
        Routes.CLAIM, json={"executor_id": "ET-SoraWM-77", "capabilities": {}, "wait_s": 0}
    )
    claim = ClaimResponse.model_validate(answer.json())
    dest = tmp_path / "input.mp4"
    # every byte written to the download's part file lands on a device that is always full
    os.symlink("/dev/full", tmp_path / "input.mp4.part")

    with pytest.raises(ExecutorFault, match="No space left"):
        client.download_input(claim, dest)
    assert not dest.exists()
