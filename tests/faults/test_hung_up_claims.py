"""A long-polling claim whose executor hung up never takes a task: the next executor that
asks gets it at once, instead of after a whole lease."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.client import get_task, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService


def test_a_task_queued_after_a_poller_hung_up_goes_to_the_next_executor(
    live: LiveService, http: httpx.Client, video: Path, make_executor: type[ScriptedExecutor]
) -> None:
    body = {"executor_id": "gone", "capabilities": {"device": "cpu"}, "wait_s": 20}
    with (
        httpx.Client(base_url=live.url, timeout=1.0) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post(Routes.CLAIM, json=body)  # parks, then hangs up after 1 s
    time.sleep(0.3)  # the service sees the connection close

    task = submit_ok(http, video)
    time.sleep(0.5)  # time for a parked claim to wake, were it still there
    claim = make_executor("present").claim(wait_s=0)

    assert claim.status_code == 200, claim.text
    assert claim.json()["task_id"] == task["id"]
    assert get_task(http, task["id"])["attempts"] == 1
