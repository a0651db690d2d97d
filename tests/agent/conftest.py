"""Real executor processes against a live service, cleaning real synthetic clips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.executor_process import ExecutorProcess
from tests.fixtures.live_service import LiveService


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the agent's behaviour does not depend on the service's database


@pytest.fixture
def executors(tmp_path: Path) -> Iterator[Callable[..., ExecutorProcess]]:
    """`executors(live, number, *extra_args, **env)` → a started et_sorawm process."""
    started: list[ExecutorProcess] = []

    def start(live: LiveService, number: int, *args: str, **env: str) -> ExecutorProcess:
        process = ExecutorProcess(
            service_url=live.url,
            number=number,
            workdir=tmp_path / "executors",
            args=["--device", "cpu", *args],
            env={"SORAWM_RETRY_CAP": "2", **env},
        )
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.kill()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed and "executors" in getattr(item, "funcargs", {}):
        logs = item.funcargs["tmp_path"] / "executors"  # type: ignore[index]
        for log in sorted(Path(logs).glob("executor-*.log")):
            report.sections.append((log.name, log.read_text(errors="replace")[-8000:]))
    return report
