"""The service killed (SIGKILL) and started again with tasks in every state: each keeps its
state and files, the running one's lease holds, the cut-off upload is cleaned away, and in the
end every task is FINISHED once or in a clear ERROR/CANCELLED, with no orphan rows or files."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from shared.contract import Routes
from tests.fixtures.client import list_all, submit_ok
from tests.fixtures.executor import ScriptedExecutor, sha256_of
from tests.fixtures.live_service import LiveService
from tests.fixtures.standin import wait_until


def test_a_service_killed_with_tasks_in_every_state_loses_nothing(
    service: Callable[..., LiveService],
    make_video: Callable[..., Path],
    result_bytes: bytes,
) -> None:
    live = service(
        SORAWM_UPLOAD_TIMEOUT_S="1.5",
        SORAWM_MAINTENANCE_INTERVAL_S="0.2",
        SORAWM_RETENTION_INTERVAL_S="0.2",
        SORAWM_MAX_ATTEMPTS="1",
    )
    with live.client() as http, ScriptedExecutor(live.url) as executor:
        finished = submit_ok(http, make_video())
        executor.finish(executor.claim_one(), result_bytes)
        failed = submit_ok(http, make_video())
        claim = executor.claim_one()
        assert executor.fail(failed["id"], claim["lease_token"], "bad input").status_code == 200
        cancelled = submit_ok(http, make_video())
        assert http.post(Routes.TASK_CANCEL.format(task_id=cancelled["id"])).status_code == 200
        running = submit_ok(http, make_video())
        running_claim = executor.claim_one()
        queued = submit_ok(http, make_video())
    uploading = start_endless_upload(live, make_video())
    assert wait_until(lambda: len(list_states(live)) == 6, timeout=10)

    assert live.process is not None
    live.process.send_signal(signal.SIGKILL)  # a crash: nothing gets to finish
    live.process.wait(timeout=10)
    uploading.join(timeout=0.5)  # it stays blocked in its silence; a daemon thread
    live.start()

    with live.client() as http, ScriptedExecutor(live.url) as executor:
        states = {task["id"]: task["status"] for task in list_all(http)}
        assert states == {
            finished["id"]: "FINISHED",
            failed["id"]: "ERROR",
            cancelled["id"]: "CANCELLED",
            running["id"]: "PROCESSING",
            queued["id"]: "QUEUED",
        } | {task_id: "UPLOADING" for task_id in states if states[task_id] == "UPLOADING"}
        download = http.get(Routes.TASK_RESULT.format(task_id=finished["id"]))
        assert download.content == result_bytes
        executor.finish(running_claim, result_bytes)  # its lease held across the crash
        executor.finish(executor.claim_one(), result_bytes)
        # the upload cut off by the crash is reaped, with its partial files
        assert wait_until(lambda: "UPLOADING" not in list_states(live).values(), timeout=15)
        ended = {task["id"]: task for task in list_all(http)}

    assert {task_id: task["status"] for task_id, task in ended.items()} == {
        finished["id"]: "FINISHED",
        failed["id"]: "ERROR",
        cancelled["id"]: "CANCELLED",
        running["id"]: "FINISHED",
        queued["id"]: "FINISHED",
    }
    assert all(
        task["result"]["sha256"] == sha256_of(result_bytes)
        for task in ended.values()
        if task["status"] == "FINISHED"
    )
    assert ended[running["id"]]["attempts"] == 1  # one claim, across the crash
    folders = {path.name for path in (live.data_dir / "tasks").iterdir()}
    assert folders <= set(ended), f"orphan task folders: {folders - set(ended)}"


def list_states(live: LiveService) -> dict[str, str]:
    with live.client() as http:
        return {task["id"]: task["status"] for task in list_all(http)}


def start_endless_upload(live: LiveService, video: Path) -> threading.Thread:
    """A submit that sends part of its body and then nothing, in a thread of its own."""

    def body() -> Iterator[bytes]:
        yield (
            b'--e\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n"
        ) + video.read_bytes()[:500]
        time.sleep(3600)

    def send() -> None:
        try:
            with httpx.Client(base_url=live.url, timeout=60) as client:
                client.post(
                    Routes.TASKS,
                    content=body(),
                    headers={"Content-Type": "multipart/form-data; boundary=e"},
                )
        except httpx.HTTPError:
            pass  # the service died under it

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread
