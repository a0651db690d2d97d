"""Soak: many small tasks through executor processes across service replicas on PostgreSQL,
with executors killed at random (SIGKILL, bounded in count), then: was anything lost,
finished twice, or given a wrong result?

Executors here are small processes speaking the executor protocol over HTTP (claim, download,
heartbeat, upload) whose "engine" is instant: the soak measures the service and its leases,
not the engine (`bench/fleet.py` runs real et_sorawm processes). Each result is derived from
its input (`result_for`), so a result delivered to the wrong task shows.

    .venv/bin/python bench/soak.py [--tasks 1000] [--executors 16] [--kills 20] [--json out.json]

Phases: the tasks through 2 replicas with the kills; then, for claim throughput with 1 vs 2
replicas, a fifth as many tasks through 2 replicas and through 1, without kills (all in the
same run: the ratio is the measure).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as a file, too: `python bench/x.py`

import httpx

from bench.common import machine, raise_nofile, table
from shared.contract import Headers, Routes
from tests.fixtures.live_service import LiveService
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.videos import write_video

LEASE_S = "3"  # short: a killed executor's task comes back within seconds


def result_for(data: bytes) -> bytes:
    """The 'cleaned video' of an input: derived from it, so a mix-up between tasks shows."""
    return b"soak-result " + hashlib.sha256(data).hexdigest().encode()


# ---------------------------------------------------------------- an executor process


def work(urls: list[str], executor_id: str, acks: Path, stop: Path) -> None:
    """Claim, download, beat, upload until `stop` exists; every acknowledged result is noted
    in `acks` (task, lease) so the parent can count finishes."""
    rng = random.Random(executor_id)
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
    while not stop.exists():
        http = rng.choice(clients)
        try:
            answer = http.post(
                Routes.CLAIM,
                json={"executor_id": executor_id, "capabilities": {"device": "cpu"}, "wait_s": 1},
            )
            if answer.status_code != 200:
                continue
            claim = answer.json()
            lease = {Headers.LEASE_TOKEN: claim["lease_token"]}
            data = http.get(claim["input"]["url"], headers=lease).content
            http.post(
                Routes.HEARTBEAT.format(task_id=claim["task_id"]),
                json={"lease_token": claim["lease_token"], "progress": 50, "stage": "soak"},
            )
            result = result_for(data)
            answer = http.put(
                Routes.TASK_RESULT.format(task_id=claim["task_id"]),
                content=result,
                headers=lease
                | {
                    Headers.CONTENT_SHA256: hashlib.sha256(result).hexdigest(),
                    "Content-Type": "video/mp4",
                },
            )
            if answer.status_code == 200:
                with acks.open("a") as file:
                    file.write(f"{claim['task_id']} {claim['lease_token']}\n")
        except httpx.HTTPError:
            time.sleep(0.2)  # a replica restarting: try again


# ---------------------------------------------------------------- the run


@dataclass
class Phase:
    name: str
    replicas: int
    executors: int
    tasks: int
    kills: int = 0
    seconds: float = 0.0
    finished: int = 0
    lost: int = 0
    ended_otherwise: dict[str, int] = field(default_factory=dict)
    finished_twice: int = 0
    wrong_results: int = 0
    submit_to_finish_p50_s: float = 0.0
    submit_to_finish_p99_s: float = 0.0

    @property
    def tasks_per_s(self) -> float:
        return self.finished / self.seconds if self.seconds else 0.0


def run_phase(
    phase: Phase, replicas: list[LiveService], videos: list[Path], work_dir: Path, deadline_s: float
) -> Phase:
    urls = [replica.url for replica in replicas[: phase.replicas]]
    acks, stop = work_dir / f"{phase.name}.acks", work_dir / f"{phase.name}.stop"
    expected: dict[str, str] = {}
    with httpx.Client(timeout=60) as http:
        for index in range(phase.tasks):
            video = videos[index % len(videos)]
            url = urls[index % len(urls)]
            answer = http.post(
                f"{url}{Routes.TASKS}",
                files={"file": (video.name, video.read_bytes(), "video/mp4")},
            )
            answer.raise_for_status()
            expected[answer.json()["id"]] = hashlib.sha256(
                result_for(video.read_bytes())
            ).hexdigest()
    started = time.monotonic()
    workers: list[subprocess.Popen[bytes]] = []

    def spawn(number: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "bench.soak", "--work", json.dumps(urls),
                   f"soak-{number}", str(acks), str(stop)]  # fmt: skip
        return subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1])

    workers = [spawn(number) for number in range(phase.executors)]
    rng = random.Random(7)
    kills_left = phase.kills
    next_kill = started + 1.0
    try:
        with httpx.Client(base_url=urls[0], timeout=30) as http:
            while time.monotonic() - started < deadline_s:
                statuses = _statuses(http, expected)
                if all(
                    status in ("FINISHED", "ERROR", "CANCELLED") for status in statuses.values()
                ):
                    break
                if kills_left and time.monotonic() >= next_kill:
                    victim = rng.randrange(len(workers))
                    workers[victim].send_signal(signal.SIGKILL)
                    workers[victim].wait()
                    workers[victim] = spawn(victim)  # a supervisor starts it again
                    kills_left -= 1
                    next_kill = time.monotonic() + rng.uniform(0.1, 0.6)
                time.sleep(0.3)
            phase.seconds = time.monotonic() - started
            tasks = {task_id: _task(http, task_id) for task_id in expected}
    finally:
        stop.touch()
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    phase.kills -= kills_left
    return _judge(phase, tasks, expected, acks)


def _statuses(http: httpx.Client, expected: dict[str, str]) -> dict[str, str]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = http.get(Routes.TASKS, params=params).json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return {task["id"]: task["status"] for task in items if task["id"] in expected}


def _task(http: httpx.Client, task_id: str) -> dict[str, Any]:
    return dict(http.get(Routes.TASK.format(task_id=task_id)).json())


def _judge(
    phase: Phase, tasks: dict[str, dict[str, Any]], expected: dict[str, str], acks: Path
) -> Phase:
    finished = [task for task in tasks.values() if task["status"] == "FINISHED"]
    phase.finished = len(finished)
    phase.lost = sum(
        1 for task in tasks.values() if task["status"] not in ("FINISHED", "ERROR", "CANCELLED")
    )
    for task in tasks.values():
        if task["status"] in ("ERROR", "CANCELLED"):
            phase.ended_otherwise[task["status"]] = phase.ended_otherwise.get(task["status"], 0) + 1
    phase.wrong_results = sum(
        1 for task in finished if task["result"]["sha256"] != expected[task["id"]]
    )
    # a task acknowledged under two different leases was finished twice
    leases: dict[str, set[str]] = {}
    if acks.exists():
        for line in acks.read_text().splitlines():
            task_id, lease = line.split()
            leases.setdefault(task_id, set()).add(lease)
    phase.finished_twice = sum(1 for held in leases.values() if len(held) > 1)
    waits = sorted(
        (
            datetime.fromisoformat(task["finished_at"]) - datetime.fromisoformat(task["created_at"])
        ).total_seconds()
        for task in finished
    )
    if waits:
        phase.submit_to_finish_p50_s = statistics.median(waits)
        phase.submit_to_finish_p99_s = waits[min(len(waits) - 1, round(0.99 * (len(waits) - 1)))]
    return phase


def soak(
    *,
    tasks: int,
    executors: int,
    kills: int,
    work_dir: Path,
    database_url: str,
    deadline_s: float = 600.0,
    throughput_share: float = 0.2,
) -> list[Phase]:
    """Both phases against two fresh replicas on `database_url`; the replicas are stopped."""
    videos = [
        write_video(work_dir / "videos" / f"v{index}.mp4", seed=index)
        for index in range(min(tasks, 200))
    ]
    env = {"SORAWM_LEASE_SECONDS": LEASE_S, "SORAWM_MAINTENANCE_INTERVAL_S": "0.3"}
    first = LiveService(work_dir / "replica-1", database_url=database_url, env=env).start()
    second = first.replica(work_dir / "replica-2").start()
    try:
        both = [first, second]
        extra = max(1, int(tasks * throughput_share))
        phases = [
            run_phase(
                Phase("two replicas, kills", 2, executors, tasks, kills),
                both, videos, work_dir, deadline_s,
            ),
            run_phase(Phase("two replicas", 2, executors, extra), both, videos, work_dir, deadline_s),
            run_phase(Phase("one replica", 1, executors, extra), both, videos, work_dir, deadline_s),
        ]  # fmt: skip
    finally:
        second.kill()
        first.kill()
    return phases


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--work"]:  # an executor process of the soak
        work(json.loads(argv[1]), argv[2], Path(argv[3]), Path(argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--executors", type=int, default=16)
    parser.add_argument("--kills", type=int, default=20, help="executors SIGKILLed, at random")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds per phase")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    raise_nofile()
    server = PostgresServer()
    server.start()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="sorawm-soak-") as folder:
            phases = soak(
                tasks=args.tasks,
                executors=args.executors,
                kills=args.kills,
                work_dir=Path(folder),
                database_url=server.create_database(),
                deadline_s=args.deadline,
            )
    finally:
        server.stop()
    print(machine())
    rows = [
        [
            phase.name, phase.executors, phase.tasks, phase.kills, phase.finished, phase.lost,
            phase.finished_twice, phase.wrong_results,
            ", ".join(f"{k} {v}" for k, v in phase.ended_otherwise.items()) or "none",
            f"{phase.submit_to_finish_p50_s:.2f}", f"{phase.submit_to_finish_p99_s:.2f}",
            f"{phase.tasks_per_s:.1f}",
        ]
        for phase in phases
    ]  # fmt: skip
    print(
        table(
            ["phase", "executors", "tasks", "kills", "finished", "lost (goal 0)",
             "finished twice (goal 0)", "wrong results", "ended otherwise",
             "submit→finish p50 s", "p99 s", "tasks/s"],
            rows,
        )
    )  # fmt: skip
    _, two, one = phases
    print(f"claim throughput, 2 replicas ÷ 1: {two.tasks_per_s / max(one.tasks_per_s, 1e-9):.2f}")
    print(f"run time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([asdict(phase) for phase in phases], indent=2))
    ok = all(p.lost == 0 and p.finished_twice == 0 and p.wrong_results == 0 for p in phases)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
