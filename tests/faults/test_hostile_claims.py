"""The executor does not trust what a claim says: a task id is never a path, and the input is
fetched only from the service's own origin, so its token never goes anywhere else. A claim it
cannot use is reported, and the agent lives on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.executor_process import ExecutorProcess
from tests.fixtures.standin import Recorder, claim_answer, wait_until

TOKEN = "executor-secret"
TASK_ID = "0123456789abcdef0123456789abcdef"


def claims(server: Recorder) -> list[dict[str, str]]:
    return [seen for seen in server.seen if seen["path"].endswith("/claim")]


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    server = Recorder({})
    yield server
    server.close()


def run_executor(service: Recorder, tmp_path: Path) -> tuple[int, str]:
    executor = ExecutorProcess(
        service_url=service.url,
        number=7,
        workdir=tmp_path,
        args=["--token", TOKEN, "--max-tasks", "1", "--poll-wait", "0.2"],
    )
    executor.start()
    try:
        code = executor.wait(timeout=60)
    finally:
        executor.kill()
    return code, executor.log_path.read_text()


def test_an_input_url_on_another_origin_is_not_followed(
    tmp_path: Path, elsewhere: Recorder
) -> None:
    service = Recorder({"claim": [(200, claim_answer(TASK_ID, f"{elsewhere.url}/steal"))]})
    try:
        code, log = run_executor(service, tmp_path)
    finally:
        service.close()

    assert elsewhere.seen == [], "the executor sent a request (and its token) to another host"
    assert code == 0, log
    assert "not on the service's origin" in log
    failures = [seen for seen in service.seen if seen["path"].endswith("/fail")]
    assert len(failures) == 1, service.seen  # the task is handed back, with the reason


# every path here points into the test's own folder: a failing agent must not harm the machine
@pytest.mark.parametrize("task_id", ["../victim", "{victim}", "..", "ABC"])
def test_a_task_id_that_is_not_one_is_never_used_as_a_path(tmp_path: Path, task_id: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    task_id = task_id.format(victim=victim)
    (victim / "keep.txt").write_text("precious")
    service = Recorder({"claim": [(200, claim_answer(task_id, f"/api/tasks/{task_id}/input"))]})
    try:
        executor = ExecutorProcess(
            service_url=service.url,
            number=8,
            workdir=tmp_path,
            args=["--token", TOKEN, "--poll-wait", "0.2"],
        )
        executor.start()
        try:
            # the bad claim, then two more: the agent carried on
            carried_on = wait_until(lambda: len(claims(service)) >= 3, timeout=30)
            alive = executor.running()
        finally:
            executor.kill()
    finally:
        service.close()

    log = executor.log_path.read_text()
    assert (victim / "keep.txt").read_text() == "precious"
    assert alive, f"the agent died on a malformed claim:\n{log}"
    assert carried_on, log
    assert "malformed" in log
