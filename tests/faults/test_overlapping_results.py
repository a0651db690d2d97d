"""A result sent again while the first send still streams (the agent retries after a read
timeout or a 5xx): the task finishes once and its result stays downloadable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.contract import Headers, Routes
from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import ScriptedExecutor, sha256_of
from tests.fixtures.live_service import LiveService


def slow_upload(
    live: LiveService, task_id: str, token: str, data: bytes, release: threading.Event
) -> tuple[threading.Thread, list[httpx.Response]]:
    """Sends half of `data`, waits for `release`, then the rest, in a thread of its own."""
    answers: list[httpx.Response] = []

    def body() -> Iterator[bytes]:
        yield data[: len(data) // 2]
        release.wait(timeout=30)
        yield data[len(data) // 2 :]

    def send() -> None:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            answers.append(
                client.put(
                    Routes.TASK_RESULT.format(task_id=task_id),
                    content=body(),
                    headers={
                        Headers.LEASE_TOKEN: token,
                        Headers.CONTENT_SHA256: sha256_of(data),
                        "Content-Type": "video/mp4",
                    },
                )
            )

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    # the service is writing it once its temp file is there
    deadline = time.monotonic() + 30
    while not any(live.task_dir(task_id).glob(".result*.part")):
        assert time.monotonic() < deadline, "the first upload never started"
        time.sleep(0.02)
    return thread, answers


@dataclass
class Overtaken:
    task: dict[str, Any]
    first: list[httpx.Response]  # the slow first upload's answer
    retry: httpx.Response


@pytest.fixture
def overtaken(
    live: LiveService,
    http: httpx.Client,
    video: Path,
    result_bytes: bytes,
    make_executor: Callable[..., ScriptedExecutor],
) -> Overtaken:
    """A task whose result upload was sent again (a retry) while the first still streamed,
    the retry finishing first."""
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    release = threading.Event()
    first, answers = slow_upload(live, task["id"], claim["lease_token"], result_bytes, release)
    try:
        retry = executor.upload_result(task["id"], claim["lease_token"], result_bytes)
    finally:
        release.set()
        first.join(timeout=60)
    return Overtaken(task, answers, retry)


def test_a_retry_that_overtakes_a_slow_first_upload_keeps_the_result(
    overtaken: Overtaken, http: httpx.Client, result_bytes: bytes
) -> None:
    task, answers, retry = overtaken.task, overtaken.first, overtaken.retry

    assert retry.status_code == 200, retry.text
    assert [answer.status_code for answer in answers] == [200], answers[0].text
    assert answers[0].json() == retry.json()
    finished = get_task(http, task["id"])
    assert (finished["status"], finished["result"]["sha256"]) == (
        "FINISHED",
        sha256_of(result_bytes),
    )
    download = http.get(Routes.TASK_RESULT.format(task_id=task["id"]))
    assert download.status_code == 200 and download.content == result_bytes


def test_overlapping_uploads_leave_one_result_file(overtaken: Overtaken, live: LiveService) -> None:
    task = overtaken.task
    task_dir = live.data_dir / "tasks" / task["id"]
    results = sorted(path.name for path in task_dir.iterdir() if path.name.startswith("result"))
    leftovers = sorted(path.name for path in task_dir.iterdir() if path.name.startswith("."))
    assert (len(results), leftovers) == (1, [])
