"""Claim-cycle benchmark: simulated executors over HTTP against the real service on PostgreSQL.

Each simulated executor loops   claim (wait_s 0) → heartbeat → tiny result upload
(`PUT /api/tasks/{id}/result` with `X-Lease-Token` and `X-Content-SHA256`) over a queue
pre-filled with a tiny real mp4 submitted N times (`POST /api/tasks`, multipart `file`), until
the queue is empty. For 1, 8 and 64 executors it reports claim cycles per second, p50/p99 claim
latency and double claims, against the HTTP ceiling measured in the same run: the service's
no-op `GET /health/live` at the same client concurrency, just before and just after each run.
A cycle is three requests, so cycle-rate / ceiling >= 1/3 means the claim path costs no more than
the no-op path (goal).

Then the idle-poll phase: 1,000 other executor ids hold `POST /api/tasks/claim {wait_s: 30}` open
before 64 active executors start on a fresh queue; it reports the 64's p99 claim latency (goal
< 50 ms) and how many idle pollers received a task (each finishes it at once and stops).

How the pollers are kept idle (see --help of --idle-sweep-s): the service gives queued work to
every waiting poller (each submit wakes one; the maintenance sweep wakes up to all of them every
`SORAWM_MAINTENANCE_INTERVAL_S`, default 1 s). So this phase pre-fills its queue first, holds a row
lock on those QUEUED rows from the benchmark's own database connection while the pollers arrive
(their claim's `FOR UPDATE SKIP LOCKED` skips the rows, they find nothing and wait), releases it
(no row changes, nothing wakes them), and runs the service for this phase with the maintenance
sweep at 60 s, restarted on the same database and files just before. The 64 must drain the queue
before the pollers' own 30 s wait ends; pollers that still get a task are counted.

That phase runs the 64 back to back, so their claims queue behind each other (the no-op's own
p99 at 64 shows the floor of that set-up). The paced phase then measures what a fleet sees: the
same 1,000 parked long-polls, and 64 executors that each spend about `--paced-work-s` (5 s,
drawn from 0.5-1.5x per task, each executor starting at its own moment) on a task between its
claim and its heartbeat, as a real one spends it removing the mark; it reports their claims'
latency.

Clients run in this one process by default (--client-procs N splits the active executors and the
ceiling's loops over N processes): one httpx.AsyncClient per simulated executor with one
keep-alive connection (`httpx.Limits(max_connections=1)`). The table shows the CPU each side used
(client, service, PostgreSQL) and the service's CPU per cycle and per no-op request, so a
client-side bottleneck is visible.
At the end every submitted task must be FINISHED exactly once (`GET /api/tasks?status=FINISHED`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as a file, too: `python bench/x.py`

import httpx

from bench.common import (
    cpu_seconds,
    machine,
    percentile,
    raise_nofile,
    table,
    write_tiny_video,
)
from tests.fixtures.live_service import LiveService
from tests.fixtures.postgres import PostgresServer

CLAIM = "/api/tasks/claim"
TASKS = "/api/tasks"
LIVE = "/health/live"
LEASE = "X-Lease-Token"
SHA = "X-Content-SHA256"


# ---------------------------------------------------------------- bookkeeping


@dataclass
class Ledger:
    """Every claim the benchmark saw, across all phases: a task id claimed twice is a bug."""

    claims: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    finished: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)

    def claimed(self, task_id: str, executor_id: str) -> None:
        self.claims[task_id].append(executor_id)

    def double_claims(self, ids: set[str] | None = None) -> int:
        return sum(
            1
            for task_id, who in self.claims.items()
            if len(who) > 1 and (ids is None or task_id in ids)
        )


@dataclass
class RunStats:
    claim_latency: list[float] = field(default_factory=list)
    cycle_ends: list[float] = field(default_factory=list)
    first_empty: float | None = None
    task_ids: set[str] = field(default_factory=set)


class Usage:
    """CPU used by this process, the service and PostgreSQL over a window."""

    def __init__(
        self, service_pid: int, pg_pid: int | None, client_pids: list[int] | None = None
    ) -> None:
        self.service_pid, self.pg_pid = service_pid, pg_pid
        self.client_pids = client_pids or []

    def _read(self) -> tuple[float, float, float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        clients = me.ru_utime + me.ru_stime + sum(cpu_seconds(pid) for pid in self.client_pids)
        pg = cpu_seconds(self.pg_pid, with_tree=True) if self.pg_pid else float("nan")
        return time.perf_counter(), clients, cpu_seconds(self.service_pid), pg

    def __enter__(self) -> Usage:
        self._start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        wall = end[0] - self._start[0]
        self.wall = wall
        self.client_cores = (end[1] - self._start[1]) / wall
        self.service_cores = (end[2] - self._start[2]) / wall
        self.pg_cores = (end[3] - self._start[3]) / wall
        self.service_cpu_s = end[2] - self._start[2]

    def as_dict(self) -> dict[str, float]:
        return {
            "client_cores": round(self.client_cores, 3),
            "service_cores": round(self.service_cores, 3),
            "postgres_cores": round(self.pg_cores, 3),
        }


# ---------------------------------------------------------------- client pieces


def one_client(base_url: str, *, read_timeout: float = 60.0) -> httpx.AsyncClient:
    """One simulated executor = one AsyncClient with one keep-alive connection
    (`httpx.Limits(max_connections=1)`), as a real executor process has. One client shared by
    64 concurrent loops was tried first: httpcore's pool then costs the client ~10 ms of CPU per
    request and /health/live fell from ~550 to ~50 req/s; one pool per executor avoids it."""
    return httpx.AsyncClient(
        base_url=base_url,
        verify=False,  # plain HTTP on loopback; skips loading CA certificates per client
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=httpx.Timeout(read_timeout, connect=30.0, pool=read_timeout),
    )


async def submit_many(base_url: str, video: bytes, count: int, concurrency: int = 4) -> list[str]:
    ids: list[str] = []
    next_index = iter(range(count))

    async def worker() -> None:
        async with one_client(base_url) as client:
            for index in next_index:
                response = await client.post(
                    TASKS, files={"file": (f"tiny-{index}.mp4", video, "video/mp4")}
                )
                if response.status_code != 201:
                    raise RuntimeError(f"submit failed: {response.status_code} {response.text}")
                ids.append(response.json()["id"])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ids


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.perf_counter()))


async def _ceiling_share(
    base_url: str, concurrency: int, seconds: float, start_at: float
) -> dict[str, Any]:
    clients = [one_client(base_url) for _ in range(concurrency)]
    try:
        # open every connection first, so connects are not in the timed window
        await asyncio.gather(*(client.get(LIVE) for client in clients))
        start_at = max(start_at, time.perf_counter())
        await _sleep_until(start_at)
        count = 0
        stop_at = start_at + seconds
        latency: list[float] = []

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal count
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                response = await client.get(LIVE)
                latency.append(time.perf_counter() - sent)
                response.raise_for_status()
                count += 1

        await asyncio.gather(*(worker(client) for client in clients))
        return {"count": count, "start": start_at, "end": time.perf_counter(), "latency": latency}
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


def ceiling_share(
    base_url: str, concurrency: int, seconds: float, start_at: float
) -> dict[str, Any]:
    return asyncio.run(_ceiling_share(base_url, concurrency, seconds, start_at))


async def finish(
    client: httpx.AsyncClient, claim: dict[str, Any], result: bytes, digest: str, ledger: Ledger
) -> bool:
    task_id, token = claim["task_id"], claim["lease_token"]
    beat = await client.post(
        f"/api/tasks/{task_id}/heartbeat",
        json={"lease_token": token, "progress": 50.0, "stage": "bench"},
    )
    if beat.status_code != 200:
        ledger.errors.append(f"heartbeat {task_id}: {beat.status_code} {beat.text[:200]}")
        return False
    put = await client.put(
        f"/api/tasks/{task_id}/result",
        content=result,
        headers={LEASE: token, SHA: digest, "Content-Type": "video/mp4"},
    )
    if put.status_code != 200 or put.json().get("status") != "FINISHED":
        ledger.errors.append(f"result {task_id}: {put.status_code} {put.text[:200]}")
        return False
    ledger.finished[task_id] += 1
    return True


async def active_executor(
    client: httpx.AsyncClient,
    executor_id: str,
    stats: RunStats,
    ledger: Ledger,
    result: bytes,
    digest: str,
    work_s: float = 0.0,
) -> None:
    # A paced fleet is not in step: each executor starts at its own moment and its tasks
    # take 0.5-1.5x work_s (seeded by its id, so runs compare).
    pace = random.Random(executor_id)
    if work_s:
        await asyncio.sleep(pace.uniform(0.0, work_s))
    while True:
        start = time.perf_counter()
        response = await client.post(CLAIM, json={"executor_id": executor_id, "wait_s": 0})
        took = time.perf_counter() - start
        if response.status_code == 204:
            if stats.first_empty is None:
                stats.first_empty = time.perf_counter()
            return
        if response.status_code != 200:
            ledger.errors.append(f"claim: {response.status_code} {response.text[:200]}")
            return
        claim = response.json()
        stats.claim_latency.append(took)
        stats.task_ids.add(claim["task_id"])
        ledger.claimed(claim["task_id"], executor_id)
        if work_s:
            # the removal itself, as far as the service can tell
            await asyncio.sleep(work_s * pace.uniform(0.5, 1.5))
        if await finish(client, claim, result, digest, ledger):
            stats.cycle_ends.append(time.perf_counter())


async def _executors_share(
    base_url: str,
    executor_ids: list[str],
    result: bytes,
    digest: str,
    start_at: float,
    work_s: float = 0.0,
) -> dict[str, Any]:
    stats, ledger = RunStats(), Ledger()
    clients = [one_client(base_url) for _ in executor_ids]
    try:
        await asyncio.gather(*(client.get(LIVE) for client in clients))  # warm the connections
        start_at = max(start_at, time.perf_counter())
        await _sleep_until(start_at)
        await asyncio.gather(
            *(
                active_executor(client, executor_id, stats, ledger, result, digest, work_s)
                for client, executor_id in zip(clients, executor_ids, strict=True)
            )
        )
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return {
        "latency": stats.claim_latency,
        "ends": stats.cycle_ends,
        "first_empty": stats.first_empty,
        "claims": dict(ledger.claims),
        "finished": dict(ledger.finished),
        "errors": ledger.errors,
        "start": start_at,
    }


def executors_share(
    base_url: str,
    executor_ids: list[str],
    result: bytes,
    digest: str,
    start_at: float,
    work_s: float = 0.0,
) -> dict[str, Any]:
    return asyncio.run(_executors_share(base_url, executor_ids, result, digest, start_at, work_s))


class Clients:
    """Runs the simulated executors (or the ceiling's loops) in this process, or split
    round-robin over `procs` worker processes that start at the same instant (perf_counter is
    the system-wide monotonic clock on Linux, so their times compare)."""

    def __init__(self, procs: int) -> None:
        self.procs = procs
        self.pool: ProcessPoolExecutor | None = None
        self.last_ceiling_latency: list[float] = []
        if procs > 1:
            self.pool = ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn"))
            # start every worker now, not inside a timed window
            list(self.pool.map(time.sleep, [0.5] * procs))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def cpu_pids(self) -> list[int]:
        return [] if self.pool is None else list(self.pool._processes)  # noqa: SLF001

    def _split(self, items: list[Any]) -> list[list[Any]]:
        shares = [items[i :: self.procs] for i in range(self.procs)]
        return [share for share in shares if share]

    async def ceiling(self, base_url: str, concurrency: int, seconds: float) -> tuple[float, int]:
        """Requests per second of the no-op `GET /health/live` at this concurrency; requests."""
        start_at = time.perf_counter() + (3.0 if self.pool else 0.0)
        if self.pool is None:
            parts = [await _ceiling_share(base_url, concurrency, seconds, start_at)]
        else:
            loop = asyncio.get_running_loop()
            sizes = [len(s) for s in self._split(list(range(concurrency)))]
            parts = await asyncio.gather(
                *(
                    loop.run_in_executor(self.pool, ceiling_share, base_url, n, seconds, start_at)
                    for n in sizes
                )
            )
        total = sum(p["count"] for p in parts)
        self.last_ceiling_latency = [x for p in parts for x in p["latency"]]
        return total / (max(p["end"] for p in parts) - min(p["start"] for p in parts)), total

    async def executors(
        self,
        base_url: str,
        count: int,
        ledger: Ledger,
        result: bytes,
        digest: str,
        prefix: str,
        work_s: float = 0.0,
    ) -> tuple[RunStats, float]:
        ids = [f"{prefix}-{index}" for index in range(count)]
        start_at = time.perf_counter() + (3.0 if self.pool else 0.0)
        if self.pool is None:
            parts = [await _executors_share(base_url, ids, result, digest, start_at, work_s)]
        else:
            loop = asyncio.get_running_loop()
            parts = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        self.pool,
                        executors_share,
                        base_url,
                        share,
                        result,
                        digest,
                        start_at,
                        work_s,
                    )
                    for share in self._split(ids)
                )
            )
        stats = RunStats()
        for part in parts:
            stats.claim_latency += part["latency"]
            stats.cycle_ends += part["ends"]
            if part["first_empty"] is not None:
                stats.first_empty = min(
                    stats.first_empty or part["first_empty"], part["first_empty"]
                )
            for task_id, who in part["claims"].items():
                ledger.claims[task_id] += who
                stats.task_ids.add(task_id)
            for task_id, n in part["finished"].items():
                ledger.finished[task_id] += n
            ledger.errors += part["errors"]
        return stats, min(part["start"] for part in parts)


def steady_rate(stats: RunStats, start: float) -> tuple[float, int, float]:
    """Cycles per second while every executor still had work: from the start to the first empty
    claim (the drain at the end, with fewer than N executors busy, is left out)."""
    end = stats.first_empty or (max(stats.cycle_ends) if stats.cycle_ends else start)
    done = sum(1 for t in stats.cycle_ends if t <= end)
    window = end - start
    return (done / window if window > 0 else float("nan")), done, window


# ---------------------------------------------------------------- the idle-poll phase


@dataclass
class Pollers:
    received: int = 0
    polls: int = 0
    empty: int = 0
    failed: int = 0


async def idle_poller(
    client: httpx.AsyncClient,
    executor_id: str,
    wait_s: float,
    stop: asyncio.Event,
    state: Pollers,
    ledger: Ledger,
    result: bytes,
    digest: str,
    polling: set[asyncio.Task[Any]],
) -> None:
    me = asyncio.current_task()
    assert me is not None
    while not stop.is_set():
        polling.add(me)
        try:
            response = await client.post(CLAIM, json={"executor_id": executor_id, "wait_s": wait_s})
        except httpx.HTTPError as exc:
            state.failed += 1
            ledger.errors.append(f"idle poll {executor_id}: {type(exc).__name__}")
            return
        finally:
            polling.discard(me)
        state.polls += 1
        if response.status_code == 204:
            state.empty += 1
            continue
        if response.status_code != 200:
            state.failed += 1
            ledger.errors.append(f"idle claim: {response.status_code} {response.text[:200]}")
            return
        claim = response.json()
        ledger.claimed(claim["task_id"], executor_id)
        state.received += 1
        await finish(client, claim, result, digest, ledger)
        return  # a poller that got work finishes it and stops


async def count_executors(conn: Any, prefix: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM executors WHERE id LIKE $1", prefix + "%"))


async def idle_phase(
    service: LiveService,
    asyncpg_dsn: str,
    *,
    idle: int,
    active: int,
    tasks: int,
    wait_s: float,
    ledger: Ledger,
    result: bytes,
    digest: str,
    usage_pids: tuple[int, int | None],
    clients: Clients,
    prefix: str = "ET-bench-idle-",
    work_s: float = 0.0,
) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn)
    try:
        stop = asyncio.Event()
        state = Pollers()
        polling: set[asyncio.Task[Any]] = set()
        lock = conn.transaction()
        await lock.start()
        locked = await conn.fetchval(
            "SELECT count(*) FROM (SELECT id FROM tasks WHERE status = 'QUEUED' FOR UPDATE) AS q"
        )
        idle_clients = [one_client(service.url, read_timeout=wait_s + 30) for _ in range(idle)]
        t_park = time.perf_counter()
        poll_tasks = [
            asyncio.create_task(
                idle_poller(
                    client,
                    f"{prefix}{index}",
                    wait_s,
                    stop,
                    state,
                    ledger,
                    result,
                    digest,
                    polling,
                )
            )
            for index, client in enumerate(idle_clients)
        ]
        # every poller has run its first claim (and found the locked queue empty) once its
        # executor row exists; it waits on the service's queue signal right after that commit
        deadline = time.perf_counter() + 60
        while (seen := await count_executors(conn, prefix)) < idle:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"only {seen} of {idle} idle pollers reached the service")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        park_s = time.perf_counter() - t_park
        await lock.commit()  # rows unchanged: nothing is notified, the pollers stay parked
        held = _established(service.port)
        with Usage(*usage_pids, clients.cpu_pids()) as usage:
            run_stats, run_start = await clients.executors(
                service.url, active, ledger, result, digest, "ET-bench-active", work_s
            )
        since_park = time.perf_counter() - t_park
        held_after = _established(service.port)
        stop.set()
        # pollers mid-task finish it; those still waiting in a claim are let go
        for task in list(polling):
            task.cancel()
        await asyncio.gather(*poll_tasks, return_exceptions=True)
        await asyncio.gather(*(client.aclose() for client in idle_clients))
    finally:
        await conn.close()
    rate, done, window = steady_rate(run_stats, run_start)
    return {
        "idle_pollers": idle,
        "active_executors": active,
        "work_s": work_s,
        "tasks": tasks,
        "locked_while_parking": int(locked),
        "park_s": round(park_s, 2),
        "seconds_from_park_to_end": round(since_park, 2),
        "server_connections_held_at_start": held,
        "server_connections_held_at_end": held_after,
        "idle_pollers_that_received_a_task": state.received,
        "idle_polls_answered": state.polls,
        "idle_polls_empty_204": state.empty,
        "idle_poll_errors": state.failed,
        "cycles_per_s": rate,
        "cycles": len(run_stats.cycle_ends),
        "claim_p50_ms": percentile(run_stats.claim_latency, 50) * 1000,
        "claim_p99_ms": percentile(run_stats.claim_latency, 99) * 1000,
        "claim_max_ms": max(run_stats.claim_latency, default=float("nan")) * 1000,
        "claims_by_active": len(run_stats.claim_latency),
        "window_s": round(window, 2),
        "double_claims": ledger.double_claims(run_stats.task_ids),
        **usage.as_dict(),
    }


def restart_slow_sweep(
    service: LiveService, work: Path, database_url: str, sweep_s: float
) -> LiveService:
    """Stop `service` and start it again on the same database and files, its maintenance
    sweep every `sweep_s` (the sweep would hand queued work to parked pollers)."""
    service.stop()
    return LiveService(
        work / "svc",
        database_url=database_url,
        env={"SORAWM_LOG_LEVEL": "INFO", "SORAWM_MAINTENANCE_INTERVAL_S": str(sweep_s)},
    ).start()


def _established(port: int) -> int:
    """Established TCP connections to the service's port (server side), from /proc/net/tcp."""
    wanted = f"{port:04X}"
    total = 0
    for table_path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table_path).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[1].rsplit(":", 1)[1] == wanted and parts[3] == "01":
                    total += 1
    return total


# ---------------------------------------------------------------- verification


async def finished_ids(base_url: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        while True:
            params: dict[str, Any] = {"status": "FINISHED", "limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get(TASKS, params=params)).raise_for_status().json()
            ids += [item["id"] for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return ids


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        help="use this PostgreSQL (postgresql+asyncpg://user@host:port/db, an empty database) "
        "instead of starting a throw-away server",
    )
    parser.add_argument(
        "--executors", default="1,8,64", help="executor counts to run (default 1,8,64)"
    )
    parser.add_argument(
        "--tasks",
        type=int,
        default=0,
        help="tasks per executor count (default: 200 for 1 executor, 240 for 8, else 10 per "
        "executor)",
    )
    parser.add_argument(
        "--ceiling-s", type=float, default=4.0, help="seconds per /health/live measurement (4)"
    )
    parser.add_argument("--idle", type=int, default=1000, help="idle long-polls (1000; 0 skips)")
    parser.add_argument("--idle-active", type=int, default=64, help="active executors beside them")
    parser.add_argument(
        "--idle-tasks",
        type=int,
        default=0,
        help="queue for the idle-poll phase (default: what the earlier run of as many executors "
        "finishes in 15 s, 100..800, so the 64 drain it before the pollers' 30 s wait ends)",
    )
    parser.add_argument("--idle-wait-s", type=float, default=30.0, help="their wait_s (30)")
    parser.add_argument(
        "--idle-sweep-s",
        type=float,
        default=60.0,
        help="SORAWM_MAINTENANCE_INTERVAL_S for the idle phase (60). With the default 1 s the "
        "sweep hands queued work to every waiting poller within a second, so none stays idle",
    )
    parser.add_argument(
        "--paced-work-s",
        type=float,
        default=5.0,
        help="then the same 1,000 idle long-polls beside the active executors working at a pace: "
        "each waits this long between claim and heartbeat, as a real executor does while it "
        "removes the mark (5; 0 skips this phase)",
    )
    parser.add_argument(
        "--paced-rounds",
        type=int,
        default=3,
        help="tasks per active executor in the paced phase (3: with the staggered starts it "
        "ends within ~25 s, before the pollers' own wait does)",
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=1,
        help="client processes the active executors and the ceiling's loops are split over (1); "
        "the idle pollers always run in the main process",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="record the service with py-spy during the largest executor run into this folder "
        "(py-spy must be installed in the venv; it takes CPU: do not quote figures of such a run)",
    )
    parser.add_argument(
        "--py-spy-format", default="flamegraph", choices=["flamegraph", "raw", "speedscope"]
    )
    return parser.parse_args(argv)


def tasks_for(count: int, override: int) -> int:
    if override:
        return override
    if count == 1:
        return 200
    return 30 * count if count <= 8 else 10 * count


async def main_async(
    args: argparse.Namespace, database_url: str, pg_pid: int | None, work: Path
) -> dict[str, Any]:
    counts = [int(c) for c in args.executors.split(",") if c.strip()]
    video = write_tiny_video(work / "tiny.mp4").read_bytes()
    result, digest = video, hashlib.sha256(video).hexdigest()
    ledger = Ledger()
    submitted: list[str] = []
    out: dict[str, Any] = {
        "benchmark": "claim",
        "machine": machine(),
        "database": "postgresql (throw-away, fsync on)" if pg_pid else "postgresql (given URL)",
        "client": (
            f"{args.client_procs} process(es), one httpx.AsyncClient per simulated executor "
            "(max_connections=1, HTTP/1.1 keep-alive)"
        ),
        "video_bytes": len(video),
        "runs": [],
    }
    clients = Clients(args.client_procs)
    service = LiveService(
        work / "svc", database_url=database_url, env={"SORAWM_LOG_LEVEL": "INFO"}
    ).start()
    try:
        out["service_settings"] = "defaults (lease 30 s, maintenance sweep 1 s), log level INFO"
        pids = (service.pid, pg_pid)
        for count in counts:
            n = tasks_for(count, args.tasks)
            t0 = time.perf_counter()
            ids = await submit_many(service.url, video, n)
            submit_rate = n / (time.perf_counter() - t0)
            submitted += ids
            with Usage(*pids, clients.cpu_pids()) as ceil_use_1:
                before, before_n = await clients.ceiling(service.url, count, args.ceiling_s)
            live_latency = clients.last_ceiling_latency
            spy = None
            if args.py_spy and count == max(counts):
                args.py_spy.mkdir(parents=True, exist_ok=True)
                suffix = "svg" if args.py_spy_format == "flamegraph" else "txt"
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "-o",
                        str(args.py_spy / f"claim-{count}.{suffix}"),
                        "--pid",
                        str(service.pid),
                        "-r",
                        "100",
                        "--format",
                        args.py_spy_format,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            with Usage(*pids, clients.cpu_pids()) as usage:
                stats, start = await clients.executors(
                    service.url, count, ledger, result, digest, f"ET-bench-{count}"
                )
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=60)
            with Usage(*pids, clients.cpu_pids()) as ceil_use_2:
                after, after_n = await clients.ceiling(service.url, count, args.ceiling_s)
            live_latency += clients.last_ceiling_latency
            rate, done, window = steady_rate(stats, start)
            ceil = (before + after) / 2
            svc_ms_cycle = usage.service_cpu_s / max(1, len(stats.cycle_ends)) * 1000
            svc_ms_live = (
                (ceil_use_1.service_cpu_s + ceil_use_2.service_cpu_s)
                / max(1, before_n + after_n)
                * 1000
            )
            run = {
                "executors": count,
                "tasks": n,
                "cycles_per_s": rate,
                "ceiling_req_per_s": ceil,
                "ceiling_before": before,
                "ceiling_after": after,
                "ratio_cycles_to_ceiling": rate / ceil,
                "goal_ratio": 1 / 3,
                "claim_p50_ms": percentile(stats.claim_latency, 50) * 1000,
                "claim_p99_ms": percentile(stats.claim_latency, 99) * 1000,
                # the no-op's own latency at this concurrency: what the p99 goal compares with
                "live_p50_ms": percentile(live_latency, 50) * 1000,
                "live_p99_ms": percentile(live_latency, 99) * 1000,
                "cycles": len(stats.cycle_ends),
                "cycles_in_window": done,
                "window_s": round(window, 2),
                "service_cpu_ms_per_cycle": svc_ms_cycle,
                "service_cpu_ms_per_live_request": svc_ms_live,
                "service_cpu_cycle_vs_3_live": 3 * svc_ms_live / svc_ms_cycle,
                "ceiling_client_cores": round(
                    (ceil_use_1.client_cores + ceil_use_2.client_cores) / 2, 3
                ),
                "ceiling_service_cores": round(
                    (ceil_use_1.service_cores + ceil_use_2.service_cores) / 2, 3
                ),
                "double_claims": ledger.double_claims(stats.task_ids),
                "submit_per_s": submit_rate,
                **usage.as_dict(),
            }
            out["runs"].append(run)
            print(
                f"  {count:>3} executors: {rate:7.1f} cycles/s, ceiling {ceil:7.1f} req/s, "
                f"ratio {rate / ceil:.3f}, claim p50 {run['claim_p50_ms']:.1f} ms "
                f"p99 {run['claim_p99_ms']:.1f} ms",
                flush=True,
            )
        if args.idle:
            ref = next((r for r in out["runs"] if r["executors"] == args.idle_active), None)
            if not args.idle_tasks:
                rate = ref["cycles_per_s"] if ref else 30.0
                args.idle_tasks = int(max(100, min(800, rate * 15)))
            submitted += await submit_many(service.url, video, args.idle_tasks)
            # the same service, database and files, with the sweep slowed (see the module doc)
            service = restart_slow_sweep(service, work, database_url, args.idle_sweep_s)

            async def parked_phase(tasks: int, **pace: Any) -> dict[str, Any]:
                return await idle_phase(
                    service,
                    database_url.replace("postgresql+asyncpg://", "postgresql://"),
                    idle=args.idle,
                    active=args.idle_active,
                    tasks=tasks,
                    wait_s=args.idle_wait_s,
                    ledger=ledger,
                    result=result,
                    digest=digest,
                    usage_pids=(service.pid, pg_pid),
                    clients=clients,
                    **pace,
                )

            idle = await parked_phase(args.idle_tasks)
            if ref:
                idle["p99_vs_no_idle_run"] = idle["claim_p99_ms"] / ref["claim_p99_ms"]
                idle["rate_vs_no_idle_run"] = idle["cycles_per_s"] / ref["cycles_per_s"]
            idle["goal_p99_ms"] = 50.0
            idle["sweep_interval_s"] = args.idle_sweep_s
            out["idle_phase"] = idle
            if args.paced_work_s > 0:
                # The same fleet at a working pace: each of the 64 spends about work_s on its
                # task between claim and heartbeat, as a real executor spends it removing the
                # mark. A fresh service first, so no claim left waiting by the last phase's
                # pollers takes the new queue.
                service = restart_slow_sweep(service, work, database_url, args.idle_sweep_s)
                paced_tasks = args.idle_active * args.paced_rounds
                submitted += await submit_many(service.url, video, paced_tasks)
                paced = await parked_phase(
                    paced_tasks, prefix="ET-bench-idle-paced-", work_s=args.paced_work_s
                )
                paced["goal_p99_ms"] = 50.0
                out["paced_phase"] = paced
        # every task finished exactly once
        finished = await finished_ids(service.url)
        counts_by_id: dict[str, int] = defaultdict(int)
        for task_id in finished:
            counts_by_id[task_id] += 1
        out["verify"] = {
            "submitted": len(submitted),
            "finished_listed": len(finished),
            "missing": sum(1 for t in submitted if counts_by_id.get(t, 0) == 0),
            "listed_twice": sum(1 for c in counts_by_id.values() if c > 1),
            "double_claims_total": ledger.double_claims(),
            "results_acknowledged_twice": sum(1 for c in ledger.finished.values() if c > 1),
            "errors": len(ledger.errors),
            "first_errors": ledger.errors[:5],
        }
    finally:
        service.stop()
        clients.close()
    return out


def report(out: dict[str, Any]) -> None:
    rows = []
    for run in out["runs"]:
        rows.append(
            [
                run["executors"],
                run["ratio_cycles_to_ceiling"],
                "met" if run["ratio_cycles_to_ceiling"] >= 1 / 3 else "MISSED",
                run["cycles_per_s"],
                run["ceiling_req_per_s"],
                run["claim_p50_ms"],
                run["claim_p99_ms"],
                run["live_p99_ms"],
                run["double_claims"],
                run["cycles"],
                f"{run['client_cores']:.2f}/{run['service_cores']:.2f}/{run['postgres_cores']:.2f}",
                f"{run['ceiling_client_cores']:.2f}/{run['ceiling_service_cores']:.2f}",
                run["service_cpu_ms_per_cycle"],
                run["service_cpu_ms_per_live_request"],
            ]
        )
    print()
    print(
        "claim cycles (claim → heartbeat → result) vs the no-op /health/live ceiling, same client concurrency"
    )
    print(
        table(
            [
                "executors",
                "cycles/ceiling",
                "goal>=0.333",
                "cycles/s",
                "ceiling req/s",
                "claim p50 ms",
                "claim p99 ms",
                "no-op p99 ms",
                "double",
                "cycles",
                "cores client/svc/pg",
                "ceiling cores client/svc",
                "svc CPU ms/cycle",
                "svc CPU ms/live req",
            ],
            rows,
        )
    )
    print(
        "no-op p99: GET /health/live latency during the ceiling runs, same concurrency; "
        "cores: CPU seconds per wall second while the cycles (or the ceiling) ran; "
        "svc CPU ms: the service process's CPU per claim cycle and per /health/live request"
    )
    idle = out.get("idle_phase")
    if idle:
        print()
        print(
            f"{idle['active_executors']} active executors with {idle['idle_pollers']} idle "
            f"long-polls (wait_s 30) held open ({idle['server_connections_held_at_start']} "
            "server connections established at the start)"
        )
        print(
            table(
                [
                    "claim p99 ms",
                    "goal<50ms",
                    "p99 vs no-idle run",
                    "claim p50 ms",
                    "cycles/s",
                    "rate vs no-idle run",
                    "idle got a task",
                    "double",
                    "cores client/svc/pg",
                ],
                [
                    [
                        idle["claim_p99_ms"],
                        "met" if idle["claim_p99_ms"] < 50 else "MISSED",
                        idle.get("p99_vs_no_idle_run", float("nan")),
                        idle["claim_p50_ms"],
                        idle["cycles_per_s"],
                        idle.get("rate_vs_no_idle_run", float("nan")),
                        idle["idle_pollers_that_received_a_task"],
                        idle["double_claims"],
                        f"{idle['client_cores']:.2f}/{idle['service_cores']:.2f}/{idle['postgres_cores']:.2f}",
                    ]
                ],
            )
        )
    paced = out.get("paced_phase")
    if paced:
        print()
        print(
            f"the same with the {paced['active_executors']} active executors working "
            f"{paced['work_s']:g} s per task (claim, work, heartbeat, result), "
            f"{paced['idle_pollers']} idle long-polls held open"
        )
        print(
            table(
                [
                    "claim p99 ms",
                    "goal<50ms",
                    "claim p50 ms",
                    "claim max ms",
                    "claims",
                    "idle got a task",
                    "double",
                    "cores client/svc/pg",
                ],
                [
                    [
                        paced["claim_p99_ms"],
                        "met" if paced["claim_p99_ms"] < 50 else "MISSED",
                        paced["claim_p50_ms"],
                        paced["claim_max_ms"],
                        paced["claims_by_active"],
                        paced["idle_pollers_that_received_a_task"],
                        paced["double_claims"],
                        f"{paced['client_cores']:.2f}/{paced['service_cores']:.2f}/{paced['postgres_cores']:.2f}",
                    ]
                ],
            )
        )
    v = out["verify"]
    print()
    print(
        f"verify: {v['submitted']} submitted, {v['finished_listed']} listed FINISHED, "
        f"{v['missing']} missing, {v['listed_twice']} listed twice, "
        f"{v['double_claims_total']} double claims, {v['errors']} errors"
    )
    for error in v["first_errors"]:
        print("  error:", error)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    nofile = raise_nofile()
    need = args.idle + max(int(c) for c in args.executors.split(",")) + 200
    if nofile < need:
        print(f"warning: open-file limit {nofile} < {need}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="sorawm-bench-claim-"))
    started = time.perf_counter()
    print(f"claim benchmark, work folder {work}", flush=True)
    server = None
    try:
        if args.database_url:
            database_url, pg_pid = args.database_url, None
        else:
            server = PostgresServer(fsync=True)
            server.start()
            database_url, pg_pid = server.create_database("bench"), server.pid
            print(
                f"PostgreSQL {server.setting('server_version')} on port {server.port}, "
                f"fsync={server.setting('fsync')}, "
                f"synchronous_commit={server.setting('synchronous_commit')}",
                flush=True,
            )
        out = asyncio.run(main_async(args, database_url, pg_pid, work))
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    out["total_s"] = round(time.perf_counter() - started, 1)
    report(out)
    print(f"\ntotal {out['total_s']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str))
        print(f"wrote {args.json}")
    v = out["verify"]
    ok = not (v["missing"] or v["listed_twice"] or v["double_claims_total"] or v["errors"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
