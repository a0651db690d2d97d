"""The client's submit retried after its answer was lost: the same Idempotency-Key, so the
service gives back the task it made instead of a second one."""

from __future__ import annotations

from pathlib import Path

from client.api import SoraWMClient
from tests.fixtures.client import list_all
from tests.fixtures.cutting_proxy import CuttingProxy
from tests.fixtures.live_service import LiveService


def test_a_submit_whose_answer_was_lost_is_retried_into_the_same_task(
    live: LiveService, video: Path
) -> None:
    proxy = CuttingProxy(live.port)
    try:
        with SoraWMClient(proxy.url) as client:
            task = client.submit(video)
    finally:
        proxy.close()
    assert proxy.connections == 2  # the first answer was lost, the retry got one
    with live.client() as http:
        assert [item["id"] for item in list_all(http)] == [task.id]
