"""Uploads time out on inactivity, not on their total time: a long upload that keeps sending
is kept, one that stops sending is cut off cleanly (a clear answer, no row, no files)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from shared.contract import Routes
from tests.fixtures.client import list_all
from tests.fixtures.live_service import LiveService

BOUNDARY = "sorawm-slow-upload"
QUICK_REAPER = {
    "SORAWM_UPLOAD_TIMEOUT_S": "1.5",
    "SORAWM_MAINTENANCE_INTERVAL_S": "0.2",
    "SORAWM_RETENTION_INTERVAL_S": "0.2",
}


def multipart(video: bytes, pieces: int) -> list[bytes]:
    """A one-file multipart body, cut into `pieces` parts."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + video
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    size = -(-len(body) // pieces)
    return [body[at : at + size] for at in range(0, len(body), size)]


def send(live: LiveService, parts: list[bytes], pause: Callable[[int], float]) -> httpx.Response:
    def body() -> Iterator[bytes]:
        for index, part in enumerate(parts):
            time.sleep(pause(index))
            yield part

    with httpx.Client(base_url=live.url, timeout=60) as client:
        return client.post(
            Routes.TASKS,
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )


def test_an_upload_longer_than_the_timeout_that_keeps_sending_is_kept(
    service: Callable[..., LiveService], video: Path
) -> None:
    live = service(**QUICK_REAPER)
    # 4.5 s in all, never more than 0.5 s without a byte
    answer = send(live, multipart(video.read_bytes(), 10), lambda _index: 0.5)

    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "QUEUED"
    assert live.task_dir(answer.json()["id"]).joinpath("input.mp4").is_file()


def test_an_upload_that_stops_sending_is_cut_off_with_nothing_left(
    service: Callable[..., LiveService], video: Path
) -> None:
    live = service(**QUICK_REAPER)
    # half the body, then silence for twice the timeout
    answer = send(live, multipart(video.read_bytes(), 2), lambda index: 3.0 if index else 0.0)

    assert answer.status_code == 408, answer.text
    assert "no data" in answer.json()["detail"]
    with live.client() as http:
        assert list_all(http) == []
    assert list((live.data_dir / "tasks").iterdir()) == []
