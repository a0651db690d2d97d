"""The service's disk fills while an upload streams: a clear 507, no partial file, and the
service goes on (a small tmpfs mounted over its task folder stands for the full disk)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.client import get_task, list_all, submit, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService

DISK = 1024 * 1024  # the tmpfs: 1 MiB


@pytest.fixture
def full_disk(live: LiveService) -> Iterator[Path]:
    """The live service's task folder on a 1 MiB tmpfs (needs root, as the suite runs here)."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root; the suite runs as root (scripts/test)")
    tasks = live.data_dir / "tasks"
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(tasks)], check=True)
    try:
        yield tasks
    finally:
        subprocess.run(["umount", "-l", str(tasks)], check=False)


def leftovers(tasks: Path) -> list[str]:
    return sorted(str(path.relative_to(tasks)) for path in tasks.rglob("*") if path.is_file())


def test_a_submit_larger_than_the_free_disk_is_507_and_leaves_nothing(
    live: LiveService, http: httpx.Client, full_disk: Path, video: Path
) -> None:
    answer = submit(http, os.urandom(3 * DISK), filename="big.mp4")

    assert answer.status_code == 507, answer.text
    assert "disk is full" in answer.json()["detail"]
    assert leftovers(full_disk) == [] and list_all(http) == []
    # the service goes on: a video that fits is taken
    assert http.get(Routes.HEALTH).status_code == 200
    assert submit_ok(http, video)["status"] == "QUEUED"


def test_a_result_larger_than_the_free_disk_is_507_and_the_task_stays_running(
    live: LiveService, http: httpx.Client, full_disk: Path, video: Path
) -> None:
    task = submit_ok(http, video)
    with ScriptedExecutor(live.url) as executor:
        claim = executor.claim_one()
        answer = executor.upload_result(task["id"], claim["lease_token"], os.urandom(3 * DISK))

    assert answer.status_code == 507, answer.text
    assert get_task(http, task["id"])["status"] == "PROCESSING"  # the executor may try again
    assert leftovers(full_disk) == [f"{task['id']}/input.mp4"]
