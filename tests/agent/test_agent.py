"""et_sorawm as a process: it pulls, cleans, reports and survives."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import av
import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.client import get_task, submit_ok, wait_for_status
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.executor_process import ExecutorProcess
from tests.fixtures.live_service import LiveService
from tools.synth.clip import ClipFiles

Executors = Callable[..., ExecutorProcess]


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def processing_by(http: httpx.Client, task_id: str, executor_id: str) -> Callable[[], bool]:
    def check() -> bool:
        task = get_task(http, task_id)
        return (
            task["status"] == "PROCESSING"
            and task["executor_id"] == executor_id
            and task["stage"] not in (None, "claimed", "download")
        )

    return check


def frame_count(data: bytes, path: Any) -> int:
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_version_and_help_explain_themselves() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "executor", "--version"], capture_output=True, text=True, timeout=60
    )
    helptext = subprocess.run(
        [sys.executable, "-m", "executor", "--help"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("et_sorawm ")
    for flag in ("--service-host", "--id", "--token", "--device", "--once", "--max-tasks"):
        assert flag in helptext.stdout


def test_two_executors_clean_every_task_once(
    live: LiveService,
    http: httpx.Client,
    executors: Executors,
    make_clip: Callable[..., ClipFiles],
    tmp_path: Any,
) -> None:
    clips = [make_clip(index) for index in range(3)]
    tasks = [submit_ok(http, clip.marked) for clip in clips]
    executors(live, 1)
    executors(live, 2)

    finished = [wait_for_status(http, task["id"], "FINISHED", timeout=240) for task in tasks]

    for clip, task in zip(clips, finished, strict=True):
        assert task["attempts"] == 1
        assert task["executor_id"] in {"ET-SoraWM-1", "ET-SoraWM-2"}
        result = http.get(Routes.TASK_RESULT.format(task_id=task["id"]))
        assert result.status_code == 200
        assert frame_count(result.content, tmp_path / f"{task['id']}.mp4") == clip.frames
    fleet = {e["id"]: e for e in http.get(Routes.EXECUTORS).json()}
    assert fleet["ET-SoraWM-1"]["done"] + fleet["ET-SoraWM-2"]["done"] == 3


def test_once_processes_one_task_and_exits_zero(
    live: LiveService, http: httpx.Client, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    first = submit_ok(http, make_clip(0).marked)
    second = submit_ok(http, make_clip(1).marked)

    process = executors(live, 1, "--once")

    assert process.wait(timeout=240) == 0
    assert get_task(http, first["id"])["status"] == "FINISHED"
    assert get_task(http, second["id"])["status"] == "QUEUED"


def test_killed_executor_loses_its_lease_and_another_finishes_exactly_once(
    service: Callable[..., LiveService],
    executors: Executors,
    make_clip: Callable[..., ClipFiles],
) -> None:
    live = service(SORAWM_LEASE_SECONDS="3", SORAWM_MAINTENANCE_INTERVAL_S="0.3")
    with live.client() as http:
        task = submit_ok(http, make_clip(2, seconds=4.0).marked)
        doomed = executors(live, 1)
        wait_until(processing_by(http, task["id"], "ET-SoraWM-1"), timeout=120, what="work")

        doomed.signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        wait_until(
            lambda: get_task(http, task["id"])["status"] == "QUEUED",
            timeout=30,
            what="the lease to expire",
        )
        executors(live, 2)
        done = wait_for_status(http, task["id"], "FINISHED", timeout=240)

    assert done["executor_id"] == "ET-SoraWM-2"
    assert done["attempts"] == 2


def test_executor_rides_out_a_service_outage_and_completes(
    service: Callable[..., LiveService],
    executors: Executors,
    make_clip: Callable[..., ClipFiles],
) -> None:
    live = service()
    with live.client() as http:
        task = submit_ok(http, make_clip(3, seconds=4.0).marked)
    worker = executors(live, 1)
    with live.client() as http:
        wait_until(processing_by(http, task["id"], "ET-SoraWM-1"), timeout=120, what="work")

    live.stop(signal.SIGTERM)
    time.sleep(20)
    assert worker.running(), "the executor must not crash while the service is down"
    live.start()

    with live.client() as http:
        done = wait_for_status(http, task["id"], "FINISHED", timeout=240)

        # what the executor logged while the service was down reached it afterwards
        def outage_lines() -> list[dict[str, Any]]:
            params = {"executor_id": "ET-SoraWM-1", "q": "did not reach the service"}
            return list(http.get(Routes.ADMIN_LOGS, params=params).json()["items"])

        wait_until(lambda: bool(outage_lines()), timeout=30, what="the buffered log lines")
    assert done["attempts"] == 1
    assert done["executor_id"] == "ET-SoraWM-1"


def test_zombie_executor_upload_is_refused_and_changes_nothing(
    service: Callable[..., LiveService],
    executors: Executors,
    make_clip: Callable[..., ClipFiles],
) -> None:
    live = service(SORAWM_LEASE_SECONDS="3", SORAWM_MAINTENANCE_INTERVAL_S="0.3")
    with live.client() as http:
        task = submit_ok(http, make_clip(4, seconds=3.0).marked)
        zombie = executors(live, 1)
        wait_until(processing_by(http, task["id"], "ET-SoraWM-1"), timeout=120, what="work")
        zombie.signal(signal.SIGSTOP)  # frozen: its lease runs out
        wait_until(
            lambda: get_task(http, task["id"])["status"] == "QUEUED",
            timeout=30,
            what="the lease to expire",
        )
        # another executor takes the task and finishes it with its own result
        with ScriptedExecutor(live.url, "ET-SoraWM-2") as other:
            claim = other.claim().json()
            answer = b"the second executor's result"
            assert other.upload_result(task["id"], claim["lease_token"], answer).is_success
        zombie.signal(signal.SIGCONT)

        zombie.wait_for_log("lease", timeout=60)  # told by a 409 that the task is not its own
        final = get_task(http, task["id"])
        result = http.get(Routes.TASK_RESULT.format(task_id=task["id"])).content

    assert final["status"] == "FINISHED"
    assert final["executor_id"] == "ET-SoraWM-2"
    assert result == answer
    assert zombie.running()


def test_cancel_mid_task_stops_the_work_within_a_heartbeat(
    service: Callable[..., LiveService],
    executors: Executors,
    make_clip: Callable[..., ClipFiles],
    tmp_path: Any,
) -> None:
    live = service(SORAWM_LEASE_SECONDS="3")
    with live.client() as http:
        task = submit_ok(http, make_clip(5, seconds=6.0).marked)
        follow_up = submit_ok(http, make_clip(0).marked)
        worker = executors(live, 1)
        wait_until(processing_by(http, task["id"], "ET-SoraWM-1"), timeout=120, what="work")

        asked = time.monotonic()
        assert http.post(Routes.TASK_CANCEL.format(task_id=task["id"])).status_code == 200
        wait_until(
            lambda: get_task(http, task["id"])["status"] == "CANCELLED",
            timeout=10,
            what="the cancel to reach the executor",
        )
        worker.wait_for_log("work stopped", timeout=10)
        stopped_after = time.monotonic() - asked

        # it goes back to claiming and does the next task
        wait_for_status(http, follow_up["id"], "FINISHED", timeout=240)

    assert stopped_after < 5  # one heartbeat is a second here, plus the engine's next check
    assert not (tmp_path / "executors" / "work-1" / task["id"]).exists()


def test_sigterm_lets_the_current_task_finish_then_exits_zero(
    live: LiveService, http: httpx.Client, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    task = submit_ok(http, make_clip(6).marked)
    queued = submit_ok(http, make_clip(7).marked)
    worker = executors(live, 1, "--drain-timeout", "120")
    wait_until(processing_by(http, task["id"], "ET-SoraWM-1"), timeout=120, what="work")

    worker.signal(signal.SIGTERM)

    assert worker.wait(timeout=240) == 0
    assert get_task(http, task["id"])["status"] == "FINISHED"
    assert get_task(http, queued["id"])["status"] == "QUEUED"  # no new claim after the signal


def test_sigterm_past_the_drain_timeout_hands_the_task_back(
    live: LiveService, http: httpx.Client, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    task = submit_ok(http, make_clip(8, seconds=6.0).marked)
    worker = executors(live, 1, "--drain-timeout", "0")
    wait_until(processing_by(http, task["id"], "ET-SoraWM-1"), timeout=120, what="work")

    worker.signal(signal.SIGTERM)

    assert worker.wait(timeout=60) == 0
    back = get_task(http, task["id"])
    assert back["status"] == "QUEUED"
    assert back["attempts"] == 1
    assert "shut down" in (back["error"] or "")


def test_a_second_signal_exits_at_once(
    live: LiveService, http: httpx.Client, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    task = submit_ok(http, make_clip(9, seconds=8.0).marked)
    worker = executors(live, 1, "--drain-timeout", "300")
    wait_until(processing_by(http, task["id"], "ET-SoraWM-1"), timeout=120, what="work")

    worker.signal(signal.SIGTERM)
    time.sleep(0.5)
    worker.signal(signal.SIGINT)

    assert worker.wait(timeout=10) != 0


def test_bad_input_fails_the_task_with_the_reason_and_no_retry(
    live: LiveService,
    http: httpx.Client,
    executors: Executors,
    make_clip: Callable[..., ClipFiles],
    tmp_path: Any,
) -> None:
    # index first (faststart), data cut in the middle: the service's probe of the first
    # frame accepts it, decoding all of it does not
    clip = tmp_path / "cut.mp4"
    full = make_clip(1).marked.read_bytes()
    clip.write_bytes(full[: len(full) * 2 // 3])
    task = submit_ok(http, clip)
    executors(live, 1)

    failed = wait_for_status(http, task["id"], "ERROR", timeout=120)

    assert failed["attempts"] == 1
    assert "truncated" in failed["error"] or "corrupt" in failed["error"]


def test_executor_logs_reach_the_service_with_the_task_id(
    live: LiveService, http: httpx.Client, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    task = submit_ok(http, make_clip(0).marked)
    executors(live, 1)
    wait_for_status(http, task["id"], "FINISHED", timeout=240)

    def logged() -> bool:
        items = http.get(
            Routes.ADMIN_LOGS, params={"executor_id": "ET-SoraWM-1", "task_id": task["id"]}
        ).json()["items"]
        messages = [item["message"] for item in items]
        # the agent's own lines and the engine's (from its worker thread) both carry the task
        return any("result acknowledged" in m for m in messages) and any(
            "segments" in m for m in messages
        )

    wait_until(logged, timeout=15, what="the executor's and the engine's log lines")


@pytest.mark.parametrize("flag", ["--device", "--inpainter"])
def test_invalid_settings_are_refused_before_any_work(flag: str, tmp_path: Any) -> None:
    value = "cuda:7" if flag == "--device" else "magic"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "executor",
            "--service-host",
            "http://127.0.0.1:9",
            "--work-dir",
            str(tmp_path),
            flag,
            value,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert value in done.stderr


def test_the_detector_is_loaded_once_for_many_tasks(
    live: LiveService, http: httpx.Client, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    tasks = [submit_ok(http, make_clip(index).marked) for index in range(2)]
    process = executors(live, 1)
    for task in tasks:
        wait_for_status(http, task["id"], "FINISHED", timeout=240)
    # Detector.__init__ logs one "detector: <weights> on <device>" line per load.
    assert process.log().count("detector: sorawm-yolo-n.onnx on") == 1, process.log()
