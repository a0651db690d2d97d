"""The engine runs in a child process the agent can kill: a hung engine is noticed and killed,
a crashed one costs the task one try, and the agent goes on with the next."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.fixtures.client import get_task, submit_ok, wait_for_status
from tests.fixtures.executor_process import ExecutorProcess
from tests.fixtures.live_service import LiveService
from tests.fixtures.standin import wait_until
from tools.synth.clip import ClipFiles

Executors = Callable[..., ExecutorProcess]


def engine_child(executor: ExecutorProcess, *, timeout: float = 120) -> int:
    """The pid of the executor's engine process, once it has one."""
    assert executor.process is not None
    pid = executor.process.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            # multiprocessing's resource tracker is a child too; the engine is the spawned one
            if b"spawn_main" in command:
                return int(child)
        time.sleep(0.02)
    raise AssertionError(f"no engine process under {pid}:\n{executor.log_path.read_text()}")


def working(http: httpx.Client, task_id: str) -> Callable[[], bool]:
    """The engine has loaded and reports progress of its own."""

    def check() -> bool:
        task = get_task(http, task_id)
        return task["stage"] not in (None, "claimed", "download", "loading")

    return check


def test_a_hung_engine_is_killed_and_the_task_tried_again(
    live: LiveService, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    with live.client() as http:
        task = submit_ok(http, make_clip(1, seconds=6.0).marked)
        executor = executors(live, 1, "--stall-timeout", "3")
        child = engine_child(executor)
        assert wait_until(working(http, task["id"]), timeout=180)
        # stopped, the engine makes no progress at all: a hang as the agent sees it
        os.kill(child, signal.SIGSTOP)
        done = wait_for_status(http, task["id"], "FINISHED", timeout=240)

    assert done["attempts"] == 2
    assert "made no progress for 3 s" in (done["error"] or "")
    assert executor.running()


def test_a_crashed_engine_costs_one_try_and_the_agent_goes_on(
    live: LiveService, executors: Executors, make_clip: Callable[..., ClipFiles]
) -> None:
    with live.client() as http:
        task = submit_ok(http, make_clip(1, seconds=6.0).marked)
        executor = executors(live, 1)
        child = engine_child(executor)
        assert wait_until(working(http, task["id"]), timeout=180)
        os.kill(child, signal.SIGKILL)
        done = wait_for_status(http, task["id"], "FINISHED", timeout=240)

    assert done["attempts"] == 2
    assert "the engine process died (signal 9)" in (done["error"] or "")
    assert executor.running()
