"""Fleet benchmark: N real executor processes (CPU, small clips) against one real service.

For each N it submits the same batch of synthetic watermarked clips at once and reports:
tasks/min, time from submit to claim, and the agent's overhead — the share of each task's time
at the service (claim → FINISHED) not spent in the engine (download, heartbeats, upload,
reporting; goal < 5 %). The engine's own time comes from the engine's log line, which the
executor ships to the service with the task id. Reference in the same run: the engine alone
(`python -m executor.engine IN OUT`, one process) on the same clips, one after the other, so
"tasks/min ÷ engine alone" shows what the fleet adds or costs.

    .venv/bin/python bench/fleet.py [--executors 1,2] [--tasks 6] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as a file, too: `python bench/x.py`

import httpx

from bench.common import machine, raise_nofile, table
from tests.fixtures.live_service import LiveService

REPO = Path(__file__).resolve().parents[1]
ENGINE_LINE = re.compile(r"-> result\.mp4: .* in ([0-9.]+)s")
EVAL_SEED = 1_000_777  # never used for training


def make_clips(folder: Path, count: int) -> list[Path]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.synth",
            str(folder),
            "--count",
            str(count),
            "--seed",
            str(EVAL_SEED),
            "--width",
            "320",
            "--height",
            "180",
            "--seconds",
            "2",
            "--fps",
            "24",
            "--audio",
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    return sorted(folder.glob("*_marked.mp4"))


def engine_alone(clips: list[Path], work: Path) -> float:
    """Seconds for the engine CLI to clean every clip, one after the other."""
    started = time.perf_counter()
    for index, clip in enumerate(clips):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "executor.engine",
                str(clip),
                str(work / f"alone{index}.mp4"),
                "--device",
                "cpu",
            ],
            check=True,
            cwd=REPO,
            capture_output=True,
        )
    return time.perf_counter() - started


def start_executors(url: str, count: int, work: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORAWM_")}
    env["PYTHONPATH"] = str(REPO)
    processes = []
    for number in range(1, count + 1):
        log = (work / f"executor-{number}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "executor",
                    "--service-host",
                    url,
                    "--id",
                    str(number),
                    "--device",
                    "cpu",
                    "--poll-wait",
                    "5",
                    "--work-dir",
                    str(work / f"w{number}"),
                ],
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return processes


def wait_ready(url: str, count: int, timeout: float = 120) -> None:
    """Every executor has polled once (it shows in the fleet) before the clock starts."""
    deadline = time.monotonic() + timeout
    while len(httpx.get(f"{url}/api/executors").json()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("executors did not come up")
        time.sleep(0.5)


def when(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def run_fleet(url: str, clips: list[Path], tasks: int) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=120) as http:
        started = time.perf_counter()
        ids = []
        for index in range(tasks):
            clip = clips[index % len(clips)]
            with clip.open("rb") as file:
                response = http.post("/api/tasks", files={"file": (clip.name, file)})
            response.raise_for_status()
            ids.append(response.json()["id"])
        while True:
            states = [http.get(f"/api/tasks/{task_id}").json() for task_id in ids]
            if all(state["status"] in ("FINISHED", "ERROR", "CANCELLED") for state in states):
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started
        time.sleep(2.5)  # the executors ship their log lines every second
        waits, overheads = [], []
        for state in states:
            assert state["status"] == "FINISHED", state
            waits.append(when(state["started_at"]) - when(state["created_at"]))
            at_service = when(state["finished_at"]) - when(state["started_at"])
            lines = http.get(
                "/api/admin/logs", params={"task_id": state["id"], "q": "-> result.mp4"}
            ).json()["items"]
            engine = float(ENGINE_LINE.search(lines[0]["message"]).group(1))  # type: ignore[union-attr]
            overheads.append(max(0.0, at_service - engine) / at_service)
    return {
        "tasks": tasks,
        "wall_s": wall,
        "tasks_per_min": tasks / wall * 60,
        # the quickest is a claim by an idle executor: the long poll's wake-up latency
        "submit_to_claim_min_s": min(waits),
        "submit_to_claim_p50_s": statistics.median(waits),
        "submit_to_claim_max_s": max(waits),
        "agent_overhead_mean": statistics.mean(overheads),
        "agent_overhead_max": max(overheads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executors", default="1,2", help="executor counts to run (1,2)")
    parser.add_argument("--tasks", type=int, default=6, help="tasks per run (6)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    raise_nofile()  # the service started below inherits the limit
    counts = [int(n) for n in args.executors.split(",")]
    work = Path(tempfile.mkdtemp(prefix="sorawm-bench-fleet-"))
    clips = make_clips(work / "clips", min(args.tasks, 6))
    alone_s = engine_alone([clips[i % len(clips)] for i in range(args.tasks)], work)
    alone_rate = args.tasks / alone_s * 60
    results = []
    for count in counts:
        run_dir = work / f"run{count}"
        service = LiveService(run_dir, env={"SORAWM_LOG_LEVEL": "INFO"}).start()
        executors = start_executors(service.url, count, run_dir)
        try:
            wait_ready(service.url, count)
            result = run_fleet(service.url, clips, args.tasks)
        finally:
            for process in executors:
                process.terminate()
            for process in executors:
                process.wait(timeout=60)
            service.stop()
        result["executors"] = count
        results.append(result)
        print(f"  {count} executor(s): {result['tasks_per_min']:.1f} tasks/min", file=sys.stderr)

    print(
        f"\nfleet: {args.tasks} tasks of 2 s 320×180 clips (CPU); engine alone: "
        f"{alone_rate:.1f} tasks/min"
    )
    print(
        table(
            [
                "executors",
                "tasks/min",
                "÷ engine alone",
                "submit→claim min s",
                "p50 s",
                "max s",
                "agent overhead mean",
                "max",
                "goal < 5 %",
            ],
            [
                [
                    r["executors"],
                    f"{r['tasks_per_min']:.1f}",
                    f"{r['tasks_per_min'] / alone_rate:.2f}",
                    f"{r['submit_to_claim_min_s']:.2f}",
                    f"{r['submit_to_claim_p50_s']:.1f}",
                    f"{r['submit_to_claim_max_s']:.1f}",
                    f"{r['agent_overhead_mean']:.1%}",
                    f"{r['agent_overhead_max']:.1%}",
                    "met" if r["agent_overhead_mean"] < 0.05 else "MISSED",
                ]
                for r in results
            ],
        )
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": machine(), "engine_alone_tasks_per_min": alone_rate, "runs": results},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
