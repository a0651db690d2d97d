"""Live streams (task events, the admin's log tail) are capped per caller (429) and in all (503);
a closed stream gives its place back; one watcher per process reads the database for all of
them, so open streams do not multiply its reads."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.fixtures.client import submit_ok
from tests.fixtures.live_service import LiveService

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

TOKENS = {
    "SORAWM_CLIENT_TOKENS": "alice:ta,bob:tb",
    "SORAWM_ADMIN_TOKENS": "root:tadmin",
    "SORAWM_LOOPBACK_EXEMPT": "false",
}


def open_stream(stack: ExitStack, client: httpx.Client, path: str) -> httpx.Response:
    """A stream held open until `stack` closes; its answer's status and headers are in."""
    return stack.enter_context(client.stream("GET", path))


def test_a_caller_past_its_stream_cap_gets_429_and_a_closed_stream_frees_its_place(
    service, video: Path
) -> None:
    live: LiveService = service(**TOKENS, SORAWM_MAX_STREAMS_PER_CALLER="2")
    with live.client("ta") as alice, live.client("tb") as bob:
        task = submit_ok(alice, video)["id"]
        events = f"/api/tasks/{task}/events"
        with ExitStack() as first:
            assert open_stream(first, alice, events).status_code == 200
            with ExitStack() as second:
                assert open_stream(second, alice, events).status_code == 200
                refused = alice.get(events)
                assert refused.status_code == 429
                assert "close one" in refused.json()["detail"]
                # another caller has places of its own
                assert bob.get("/api/tasks").status_code == 200
            assert _eventually_opens(alice, events)


def test_the_service_past_its_total_stream_cap_gets_503_for_every_caller(
    service, video: Path
) -> None:
    live: LiveService = service(**TOKENS, SORAWM_MAX_STREAMS="2")
    with (
        live.client("ta") as alice,
        live.client("tadmin") as admin,
        live.client("tb") as bob,
        ExitStack() as held,
    ):
        task = submit_ok(alice, video)["id"]
        assert open_stream(held, alice, f"/api/tasks/{task}/events").status_code == 200
        assert open_stream(held, admin, "/api/admin/logs/stream").status_code == 200
        bobs = submit_ok(bob, video)["id"]
        assert bob.get(f"/api/tasks/{bobs}/events").status_code == 503
        assert admin.get("/api/admin/logs/stream").status_code == 503


def test_open_streams_share_one_watcher_whose_reads_do_not_grow_with_their_number(
    service, video: Path
) -> None:
    live: LiveService = service(**TOKENS)
    streams, window_s, tick_s = 12, 3.0, 0.5  # tick: SORAWM_STREAM_TICK_S's default
    with live.client("ta") as alice, live.client("tadmin") as admin, ExitStack() as held:
        task = submit_ok(alice, video)["id"]
        for _ in range(streams):
            assert open_stream(held, alice, f"/api/tasks/{task}/events").status_code == 200
        time.sleep(0.5)
        before = _metric(admin, "sorawm_stream_watcher_reads_total")
        time.sleep(window_s)
        reads = _metric(admin, "sorawm_stream_watcher_reads_total") - before
        assert _metric(admin, "sorawm_streams_open") == streams
    # one read per tick for all twelve (a stream polling on its own would make 12 per tick)
    assert reads <= window_s / tick_s + 2, reads


def _metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def _eventually_opens(client: httpx.Client, path: str, tries: int = 50) -> bool:
    """The place of a stream the client closed comes back once the service sees it close."""
    for _ in range(tries):
        with client.stream("GET", path) as response:
            if response.status_code == 200:
                return True
        time.sleep(0.1)
    return False
