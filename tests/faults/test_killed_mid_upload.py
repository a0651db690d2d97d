"""An executor killed with SIGKILL in the middle of its result upload: nothing half-written is
left, the lease runs out, another executor finishes the task exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from shared.contract import Routes
from tests.fixtures.client import get_task, submit_ok, wait_for_status
from tests.fixtures.executor import ScriptedExecutor, sha256_of
from tests.fixtures.live_service import LiveService
from tests.fixtures.standin import wait_until

# a separate process that sends half of a result, then waits to be killed
HALF_UPLOAD = textwrap.dedent(
    """
    import sys, time, httpx
    url, task_id, token, sha, size = sys.argv[1:6]
    def body():
        yield b"x" * (int(size) // 2)
        print("half sent", flush=True)
        time.sleep(3600)
        yield b"x" * (int(size) - int(size) // 2)
    httpx.put(
        f"{url}/api/tasks/{task_id}/result", content=body(), timeout=3600,
        headers={"X-Lease-Token": token, "X-Content-SHA256": sha, "Content-Length": size},
    )
    """
)


def test_an_executor_killed_mid_upload_leaves_nothing_and_another_finishes_once(
    service: Callable[..., LiveService], video: Path, result_bytes: bytes
) -> None:
    live = service(SORAWM_LEASE_SECONDS="2", SORAWM_MAINTENANCE_INTERVAL_S="0.2")
    with live.client() as http:
        task = submit_ok(http, video)
        with ScriptedExecutor(live.url, "doomed") as doomed:
            claim = doomed.claim_one()
        size = str(4 * 1024 * 1024)
        arguments = [live.url, task["id"], claim["lease_token"], "0" * 64, size]
        uploader = subprocess.Popen(
            [sys.executable, "-c", HALF_UPLOAD, *arguments], stdout=subprocess.PIPE, text=True
        )
        assert uploader.stdout is not None and uploader.stdout.readline().strip() == "half sent"
        task_dir = live.task_dir(task["id"])
        assert wait_until(lambda: any(task_dir.glob(".result*.part")), timeout=10)
        os.kill(uploader.pid, signal.SIGKILL)
        uploader.wait(timeout=10)
        uploader.stdout.close()

        # the half-written file goes with the dead connection
        assert wait_until(lambda: not any(task_dir.glob(".result*.part")), timeout=10)
        wait_for_status(http, task["id"], "QUEUED", timeout=20)  # the lease ran out
        with ScriptedExecutor(live.url, "healthy") as healthy:
            healthy.finish(healthy.claim_one(), result_bytes)
        done = get_task(http, task["id"])
        download = http.get(Routes.TASK_RESULT.format(task_id=task["id"]))

    assert (done["status"], done["executor_id"], done["attempts"]) == ("FINISHED", "healthy", 2)
    assert done["result"]["sha256"] == sha256_of(result_bytes) and download.content == result_bytes
    names = sorted(path.name for path in task_dir.iterdir())
    assert len(names) == 2 and names[0] == "input.mp4" and names[1].startswith("result-")
