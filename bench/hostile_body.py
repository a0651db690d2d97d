"""Hostile-body benchmark: the service's memory while it refuses a 1 GiB body with no token.

The real service (SQLite, tokens required from everyone) gets `POST /api/tasks/claim` with a
1 GiB body and no token, twice: once announced by Content-Length, once chunked (no length).
The client sends as fast as the socket takes it until the service answers or closes. Figure:
the growth of the service's resident memory (peak of samples every 10 ms, and the kernel's
VmHWM after `clear_refs`) against the goal of < 64 MB. Reference in the same run: the growth
during a burst of --burst normal claims with the executor's token.

    .venv/bin/python bench/hostile_body.py [--gib 1] [--burst 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as a file, too: `python bench/x.py`

import httpx

from bench.common import machine, status_kib, table
from tests.fixtures.live_service import LiveService

GOAL_MB = 64
PIECE = b" " * (1024 * 1024)


@contextmanager
def rss_peak(pid: int) -> Iterator[dict[str, float]]:
    """Samples the RSS every 10 ms; `out` gets the growth in MB (sampled and VmHWM)."""
    out: dict[str, float] = {}
    before = status_kib(pid, "VmRSS") or 0
    try:  # the kernel's peak, reset to the current RSS
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        hwm_ok = True
    except OSError:
        hwm_ok = False
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, status_kib(pid, "VmRSS") or 0)
            time.sleep(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        done.set()
        thread.join()
        out["sampled_mb"] = (peak - before) / 1024
        hwm = status_kib(pid, "VmHWM") if hwm_ok else None
        out["hwm_mb"] = (hwm - before) / 1024 if hwm is not None else float("nan")


def send_hostile(port: int, total: int, *, chunked: bool) -> dict[str, Any]:
    """Sends up to `total` body bytes with no token; what came back and how much went."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (
        f"POST /api/tasks/claim HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    )
    sent, status = 0, None
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            while sent < total:
                piece = PIECE[: min(len(PIECE), total - sent)]
                frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
                sock.sendall(frame)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # refused: the service stopped reading and closed
        try:
            line = sock.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
            status = int(line.split()[1]) if line else None
        except OSError:
            status = None  # reset before the answer could be read: it was sent and dropped
    return {"status": status, "sent_mb": sent / 2**20, "seconds": time.perf_counter() - started}


def send_huge_head(port: int, total: int) -> dict[str, Any]:
    """One header of up to `total` bytes, never ended; what came back and how much went."""
    sent, status = 0, None
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Pad: ".encode())
        try:
            while sent < total:
                sock.sendall(PIECE)
                sent += len(PIECE)
        except OSError:
            pass
        try:
            line = sock.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
            status = int(line.split()[1]) if line else None
        except OSError:
            status = None
    return {"status": status, "sent_mb": sent / 2**20, "seconds": time.perf_counter() - started}


def burst(url: str, token: str, count: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(count):
            response = http.post("/api/tasks/claim", json={"executor_id": "ET-SoraWM-1"})
            assert response.status_code == 204, response.text


def measure(pid: int, action: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    with rss_peak(pid) as growth:
        result = action()
    return growth, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="body size (GiB)")
    parser.add_argument("--burst", type=int, default=200, help="normal claims as the reference")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    total = int(args.gib * 2**30)
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveService(
            Path(tmp),
            env={"SORAWM_LOOPBACK_EXEMPT": "false", "SORAWM_EXECUTOR_TOKENS": f"ex:{token}"},
        ).start()
        try:
            burst(live.url, token, 20)  # warm: imports, pool, first queries
            reference, _ = measure(live.pid, lambda: burst(live.url, token, args.burst))
            announced, a_result = measure(
                live.pid, lambda: send_hostile(live.port, total, chunked=False)
            )
            streamed, c_result = measure(
                live.pid, lambda: send_hostile(live.port, total, chunked=True)
            )
            header, h_result = measure(
                live.pid, lambda: send_huge_head(live.port, min(total, 256 * 2**20))
            )
            rss_after = (status_kib(live.pid, "VmRSS") or 0) / 1024
        finally:
            live.kill()
    rows = [
        [f"reference: {args.burst} claims with a token", "204", "", "", reference],
        [
            "no token, Content-Length",
            a_result["status"],
            a_result["sent_mb"],
            a_result["seconds"],
            announced,
        ],
        [
            "no token, chunked",
            c_result["status"],
            c_result["sent_mb"],
            c_result["seconds"],
            streamed,
        ],
        [
            "no token, one header of 256 MB",
            h_result["status"],
            h_result["sent_mb"],
            h_result["seconds"],
            header,
        ],
    ]
    print(f"service RSS growth while refusing a {args.gib:g} GiB body (goal < {GOAL_MB} MB)")
    print(
        table(
            ["request", "answer", "sent MB", "s", "growth MB (sampled)", "growth MB (VmHWM)"],
            [[*row[:4], row[4]["sampled_mb"], row[4]["hwm_mb"]] for row in rows],
        )
    )
    print(f"service RSS at the end: {rss_after:.0f} MB")
    worst = max(announced["sampled_mb"], streamed["sampled_mb"], header["sampled_mb"])
    print(f"worst growth {worst:.1f} MB: {'meets' if worst < GOAL_MB else 'MISSES'} the goal")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "gib": args.gib,
                    "reference": reference,
                    "content_length": {**a_result, **announced},
                    "chunked": {**c_result, **streamed},
                    "header": {**h_result, **header},
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
