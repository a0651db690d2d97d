"""Nothing lives only in process memory: tasks survive a restart, and a lease held when the
service went down still expires afterwards."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.fixtures.client import get_task, list_all, submit_ok, wait_for_status
from tests.fixtures.executor import ScriptedExecutor

# long enough that the lease outlives the restart, short enough to wait for it afterwards
RESTART_LEASES = {"SORAWM_LEASE_SECONDS": "5", "SORAWM_MAINTENANCE_INTERVAL_S": "0.2"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_tasks_survive_a_restart_and_the_held_lease_expires_afterwards(
    service, video: Path, sig: int
) -> None:
    live = service(**RESTART_LEASES)
    with live.client() as http, ScriptedExecutor(live.url, "ET-SoraWM-1") as executor:
        queued = [submit_ok(http, video)["id"] for _ in range(3)]
        claim = executor.claim_one()
        processing = claim["task_id"]
        queued.remove(processing)
        before = {t["id"]: t["status"] for t in list_all(http)}
        # the lease runs its full length from here, so it outlives the restart
        assert executor.heartbeat(processing, claim["lease_token"], progress=10).status_code == 200

    live.restart(sig)

    with live.client() as http, ScriptedExecutor(live.url, "ET-SoraWM-2") as executor:
        after = {t["id"]: t["status"] for t in list_all(http)}
        assert after == before
        assert after[processing] == "PROCESSING"
        assert get_task(http, processing)["executor_id"] == "ET-SoraWM-1"

        requeued = wait_for_status(http, processing, "QUEUED", timeout=15)
        assert requeued["attempts"] == 1

        claims = {}
        for _ in range(3):
            got = executor.claim_one()
            claims[got["task_id"]] = got["attempt"]
        assert claims == {processing: 2, **{task_id: 1 for task_id in queued}}
        assert executor.claim().status_code == 204


def test_queued_tasks_are_claimable_after_a_restart_and_inputs_intact(service, video: Path) -> None:
    live = service()
    with live.client() as http:
        task = submit_ok(http, video)

    live.restart(signal.SIGKILL)

    with ScriptedExecutor(live.url) as executor:
        claim = executor.claim_one()
        assert claim["task_id"] == task["id"]
        assert (
            executor.download_input(task["id"], claim["lease_token"]).content == video.read_bytes()
        )


def test_sigterm_stops_the_service_cleanly(service) -> None:
    live = service()

    code = live.stop(signal.SIGTERM, timeout=10)

    # exit 0, or the signal re-raised after a graceful shutdown (uvicorn's convention)
    assert code in (0, -signal.SIGTERM), f"exit status {code}"
    assert "Traceback" not in live.log()
