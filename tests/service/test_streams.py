"""Live streams (task events, the admin's log tail) are capped per caller (429) and in all (503);
a closed stream gives its place back."""

from __future__ import annotations

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


def _eventually_opens(client: httpx.Client, path: str, tries: int = 50) -> bool:
    """The place of a stream the client closed comes back once the service sees it close."""
    import time

    for _ in range(tries):
        with client.stream("GET", path) as response:
            if response.status_code == 200:
                return True
        time.sleep(0.1)
    return False
