"""Live-stream flood benchmark: what open SSE streams cost the claim path, up to and past the cap.

One service on a throw-away PostgreSQL (fsync on), its stream cap set to `--cap`. For each
stream count in `--streams` (default 0, cap/2, cap, 2×cap), in the same run: open that many
streams (half the admin's log tail, half task events on tasks no executor takes: they ask for
the `lama` inpainter, which the benchmark's executors do not offer; `--kind events|tails` opens
only one kind), held and read by a process of
their own, count how many the service accepted and how many it refused (429/503), then run `--executors` simulated executors that loop
claim (wait_s 0) → heartbeat → tiny result over `--tasks` queued tasks, and report their claim
latency (p50/p99) as ratios to the run with no streams. The executors' state changes are logged
by the service, so every open log tail is woken while they run: the worst case for the tails.

    .venv/bin/python bench/streams.py                 # cap 100: 0, 50, 100, 200 streams
    .venv/bin/python bench/streams.py --cap 200 --streams 0,400
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as a file, too: `python bench/x.py`

import httpx

from bench.claim import Ledger, RunStats, active_executor, one_client, submit_many
from bench.common import cpu_seconds, machine, percentile, raise_nofile, table, write_tiny_video
from tests.fixtures.live_service import LiveService
from tests.fixtures.postgres import PostgresServer

TASKS = "/api/tasks"
LOG_TAIL = "/api/admin/logs/stream"


async def park_tasks(base_url: str, video: bytes, count: int) -> list[str]:
    """Tasks that stay QUEUED: they ask for an inpainter the benchmark's executors lack."""
    ids = []
    async with one_client(base_url) as client:
        for index in range(count):
            response = await client.post(
                TASKS,
                files={"file": (f"parked-{index}.mp4", video, "video/mp4")},
                data={"options": json.dumps({"inpainter": "lama"})},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


class Streams:
    """`count` SSE streams held open by this process, each read to the end in the background."""

    def __init__(self, base_url: str, paths: list[str]) -> None:
        self.base_url, self.paths = base_url, paths
        self.statuses: list[int] = []
        self.chunks = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._opened = 0
        self._all_answered = asyncio.Event()
        self.client = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=len(paths) + 1),
            timeout=httpx.Timeout(None, connect=30.0),
        )

    async def _one(self, path: str) -> None:
        try:
            async with self.client.stream("GET", path) as response:
                self._answered(response.status_code)
                if response.status_code == 200:
                    async for _chunk in response.aiter_raw():
                        self.chunks += 1
        except httpx.HTTPError:
            self._answered(0)

    def _answered(self, status: int) -> None:
        self.statuses.append(status)
        if len(self.statuses) == len(self.paths):
            self._all_answered.set()

    async def __aenter__(self) -> Streams:
        self._tasks = [asyncio.create_task(self._one(path)) for path in self.paths]
        if self.paths:
            await asyncio.wait_for(self._all_answered.wait(), 120)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.aclose()

    def count(self, status: int) -> int:
        return sum(1 for s in self.statuses if s == status)


def _hold_streams(base_url: str, paths: list[str], answers: Any, stop: Any) -> None:
    """In a process of its own (so reading the streams costs the executors' process nothing):
    open the streams, report their statuses, hold them until `stop` is set."""

    async def hold() -> None:
        async with Streams(base_url, paths) as streams:
            answers.put(streams.statuses)
            await asyncio.to_thread(stop.wait)
            answers.put(streams.chunks)

    asyncio.run(hold())


@contextlib.contextmanager
def streams_elsewhere(base_url: str, paths: list[str]) -> Iterator[list[int]]:
    """`paths` held open by another process; yields the statuses they were answered with."""
    context = multiprocessing.get_context("spawn")
    answers, stop = context.Queue(), context.Event()
    child = context.Process(target=_hold_streams, args=(base_url, paths, answers, stop))
    child.start()
    try:
        yield answers.get(timeout=180)
    finally:
        stop.set()
        child.join(timeout=30)
        if child.is_alive():
            child.kill()


async def claim_round(
    base_url: str, executors: int, video: bytes, tasks: int, label: str
) -> RunStats:
    await submit_many(base_url, video, tasks)
    stats, ledger = RunStats(), Ledger()
    digest = hashlib.sha256(video).hexdigest()
    clients = [one_client(base_url) for _ in range(executors)]
    try:
        await asyncio.gather(*(client.get("/health/live") for client in clients))
        await asyncio.gather(
            *(
                active_executor(client, f"ET-{label}-{i}", stats, ledger, video, digest)
                for i, client in enumerate(clients)
            )
        )
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    if ledger.errors:
        raise RuntimeError(f"executor errors: {ledger.errors[:3]}")
    return stats


async def main_async(args: argparse.Namespace, database_url: str, work: Path) -> dict[str, Any]:
    counts = [int(c) for c in args.streams.split(",")] if args.streams else []
    counts = counts or [0, args.cap // 2, args.cap, args.cap * 2]
    video = write_tiny_video(work / "tiny.mp4").read_bytes()
    env = {
        "SORAWM_LOG_LEVEL": "INFO",
        "SORAWM_MAX_STREAMS": str(args.cap),
        "SORAWM_MAX_STREAMS_PER_CALLER": str(args.cap * 10),  # the total cap is measured
    }
    service = LiveService(work / "svc", database_url=database_url, env=env).start()
    out: dict[str, Any] = {
        "benchmark": "streams",
        "kind": args.kind,
        "machine": machine(),
        "runs": [],
    }
    try:
        parked = await park_tasks(service.url, video, 10)
        # one round to warm the service up before anything is measured
        await claim_round(service.url, args.executors, video, args.tasks // 4, "warm")
        for count in counts:
            paths = [
                LOG_TAIL
                if args.kind == "tails" or (args.kind == "mixed" and i % 2 == 0)
                else f"{TASKS}/{parked[i % len(parked)]}/events"
                for i in range(count)
            ]
            with streams_elsewhere(service.url, paths) as statuses:
                cpu0, t0 = cpu_seconds(service.pid), time.perf_counter()
                stats = await claim_round(
                    service.url, args.executors, video, args.tasks, f"s{count}"
                )
                wall = time.perf_counter() - t0
                service_cores = (cpu_seconds(service.pid) - cpu0) / wall
                out["runs"].append(
                    {
                        "streams_asked": count,
                        "accepted": statuses.count(200),
                        "refused_503": statuses.count(503),
                        "refused_429": statuses.count(429),
                        "claims": len(stats.claim_latency),
                        "claim_p50_ms": percentile(stats.claim_latency, 50) * 1000,
                        "claim_p99_ms": percentile(stats.claim_latency, 99) * 1000,
                        "service_cores": service_cores,
                    }
                )
    finally:
        service.stop()
    base = out["runs"][0]
    for run in out["runs"]:
        run["p50_ratio"] = run["claim_p50_ms"] / base["claim_p50_ms"]
        run["p99_ratio"] = run["claim_p99_ms"] / base["claim_p99_ms"]
    return out


def report(out: dict[str, Any]) -> None:
    rows = [
        [
            r["streams_asked"],
            r["accepted"],
            r["refused_503"] + r["refused_429"],
            r["claims"],
            round(r["claim_p50_ms"], 1),
            round(r["claim_p99_ms"], 1),
            round(r["p50_ratio"], 2),
            round(r["p99_ratio"], 2),
            round(r["service_cores"], 2),
        ]
        for r in out["runs"]
    ]
    headers = ["streams", "open", "refused", "claims", "p50 ms", "p99 ms", "p50 ×", "p99 ×"]
    print(table([*headers, "service cores"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap", type=int, default=100, help="SORAWM_MAX_STREAMS")
    parser.add_argument("--streams", default="", help="stream counts (default 0,cap/2,cap,2cap)")
    parser.add_argument(
        "--kind",
        choices=["mixed", "events", "tails"],
        default="mixed",
        help="which streams: half and half (default), only task events, only log tails",
    )
    parser.add_argument("--executors", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=200, help="tasks per round")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    raise_nofile()
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        server = PostgresServer(fsync=True)
        server.start()
        try:
            out = asyncio.run(main_async(args, server.create_database(), Path(tmp)))
        finally:
            server.stop()
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
