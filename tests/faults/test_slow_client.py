"""A client sending one byte a second holds one connection, not the service: everyone else is
answered at once meanwhile."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx

from shared.contract import Routes
from tests.fixtures.client import submit_ok
from tests.fixtures.live_service import LiveService


def test_a_one_byte_a_second_upload_blocks_no_one_else(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    stop = threading.Event()
    host, port = live.url.removeprefix("http://").split(":")

    def trickle() -> None:
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
            )
            while not stop.wait(1.0):
                sock.sendall(b"-")

    slow = threading.Thread(target=trickle, daemon=True)
    slow.start()
    try:
        time.sleep(1.5)
        started = time.monotonic()
        latencies = []
        for _ in range(10):
            began = time.monotonic()
            assert http.get(Routes.LIVE).status_code == 200
            latencies.append(time.monotonic() - began)
        submitted = submit_ok(http, video)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        slow.join(timeout=5)

    assert max(latencies) < 1.0, latencies
    assert submitted["status"] == "QUEUED" and elapsed < 10
