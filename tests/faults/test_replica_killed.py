"""A replica killed with SIGKILL while a client's upload streams into it: the client gets an
error, and the other replica removes the abandoned row and its partial files once the upload
has been silent for the upload timeout: no orphan rows or files."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.client import list_all
from tests.fixtures.live_service import LiveService
from tests.fixtures.standin import wait_until

QUICK_REAPER = {
    "SORAWM_UPLOAD_TIMEOUT_S": "1.5",
    "SORAWM_MAINTENANCE_INTERVAL_S": "0.2",
    "SORAWM_RETENTION_INTERVAL_S": "0.2",
}


@pytest.fixture
def backend() -> str:
    return "postgres"  # replicas share one PostgreSQL


@pytest.fixture
def two_replicas(
    service: Callable[..., LiveService], tmp_path: Path
) -> Iterator[tuple[LiveService, LiveService]]:
    first = service(**QUICK_REAPER)
    second = first.replica(tmp_path / "replica").start()
    yield first, second
    second.kill()


def test_a_replica_killed_mid_upload_leaves_no_orphan_row_or_file(
    two_replicas: tuple[LiveService, LiveService], video: Path
) -> None:
    doomed, survivor = two_replicas
    answers: list[object] = []

    def body() -> Iterator[bytes]:
        yield (
            b'--k\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n"
        ) + video.read_bytes()[:1000]
        time.sleep(30)  # the replica dies meanwhile
        yield b"\r\n--k--\r\n"

    def upload() -> None:
        try:
            with httpx.Client(base_url=doomed.url, timeout=60) as client:
                answers.append(
                    client.post(
                        Routes.TASKS,
                        content=body(),
                        headers={"Content-Type": "multipart/form-data; boundary=k"},
                    )
                )
        except httpx.HTTPError as exc:
            answers.append(exc)

    threading.Thread(target=upload, daemon=True).start()
    tasks = doomed.data_dir / "tasks"
    assert wait_until(lambda: any(tasks.glob("*/.input*.part")), timeout=10)
    assert doomed.process is not None
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(timeout=10)

    with survivor.client() as http:
        assert wait_until(lambda: list_all(http) == [] and not any(tasks.iterdir()), timeout=15), (
            list_all(http),
            sorted(str(path) for path in tasks.rglob("*")),
        )
