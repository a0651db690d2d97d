"""Packaging benchmark: what an `et_sorawm` build costs a box, and what a task loads.

    python -m bench.packaging run cpu=dist/et_sorawm [gpu=...] [--repeat 3]
    python -m bench.packaging loaded [--weights executor/engine/weights/sorawm-yolo-n.pt]

`run`, for each build (a one-file binary, or a one-folder build's binary inside its folder):
  - size: the file, or the folder, and the folder packed as one .tar.gz (what is shipped);
  - `--version` seconds with an empty environment and a fresh temp dir (best and worst of
    --repeat runs; the first run of a file is also the coldest for the page cache);
  - seconds from start to the first claim against a live service (SQLite, loopback; the
    moment the service lists the executor, which it does at its first claim), `--device cpu`;
  - peak temp-disk use during that start: the temp dir (TMPDIR, fresh) sampled every 20 ms.
`loaded`: runs one engine task in this interpreter on a synthetic held-out clip and lists the
shared libraries the process mapped, by package, with their sizes on disk: what a build must
ship for a CPU task (run it with the .pt weights for the torch runtime).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from shared.contract import Routes
from tests.fixtures.live_service import LiveService

MIB = 1024 * 1024


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def packed_size(folder: Path, work: Path) -> int:
    """The archive the spec made beside the folder, else the folder packed here."""
    made = sorted(folder.parent.glob(f"{folder.name}-*.tar.gz"))
    if made:
        return made[0].stat().st_size
    archive = work / f"{folder.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    size = archive.stat().st_size
    archive.unlink()
    return size


def version_seconds(binary: Path, work: Path) -> float:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        started = time.perf_counter()
        done = subprocess.run(
            [str(binary), "--version"], env={"TMPDIR": tmp}, capture_output=True, timeout=600
        )
        took = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    return took


def claim_seconds(binary: Path, live: LiveService, work: Path, ident: str) -> tuple[float, int]:
    """(seconds from start to the service seeing its first claim, peak temp bytes)."""
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        temp = Path(tmp) / "tmp"
        temp.mkdir()
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(binary), "--service-host", live.url, "--id", ident, "--device", "cpu"]
            + ["--poll-wait", "5", "--work-dir", str(Path(tmp) / "work")],
            env={"TMPDIR": str(temp)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
        )
        peak, seen = 0, None
        try:
            with httpx.Client(base_url=live.url, timeout=5) as http:
                deadline = started + 300
                while seen is None and time.perf_counter() < deadline:
                    peak = max(peak, tree_size(temp))
                    assert process.poll() is None, f"{binary} exited {process.returncode}"
                    listed = http.get(Routes.EXECUTORS).json()
                    if any(e["id"] == f"ET-SoraWM-{ident}" for e in listed):
                        seen = time.perf_counter() - started
                    time.sleep(0.02)
        finally:
            process.terminate()
            process.wait(timeout=120)
    assert seen is not None, "no claim within 300 s"
    return seen, peak


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-packaging-"))
    live = LiveService(work / "service", env={"SORAWM_LOG_LEVEL": "WARNING"}).start()
    print("| build | size | shipped | --version s (best–worst) | first claim s | peak temp |")
    print("|---|---|---|---|---|---|")
    try:
        for number, item in enumerate(args.builds, start=1):
            name, _, path = item.partition("=")
            binary = Path(path).resolve()
            folder = binary.parent if (binary.parent / "_internal").is_dir() else None
            size = tree_size(folder or binary)
            shipped = packed_size(folder, work) if folder else size
            versions = [version_seconds(binary, work) for _ in range(args.repeat)]
            claims = [claim_seconds(binary, live, work, f"{number}{i}") for i in range(args.repeat)]
            print(
                f"| {name}{' (one folder)' if folder else ''} | {size / MIB:.0f} MiB "
                f"| {shipped / MIB:.0f} MiB | {min(versions):.2f}–{max(versions):.2f} "
                f"| {min(c for c, _ in claims):.2f}–{max(c for c, _ in claims):.2f} "
                f"| {max(p for _, p in claims) / MIB:.0f} MiB |",
                flush=True,
            )
    finally:
        live.stop()
    return 0


LOADED_SCRIPT = """
import sys
from pathlib import Path
from executor.engine.cli import main
from tools.synth import ClipSpec, generate_clip

work = Path(sys.argv[1])
files = generate_clip(work, 1_000_003, 0, ClipSpec(width=640, height=360, seconds=2.0, fps=15))
argv = [str(files.marked), str(work / "out.mp4"), "--device", "cpu"]
if sys.argv[2]:
    argv += ["--detector-weights", sys.argv[2]]
assert main(argv) == 0
maps = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
        if line.split()[-1].startswith("/") and ".so" in line.split()[-1]}
for path in sorted(maps):
    print(path)
"""


def loaded(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run(
            [sys.executable, "-c", LOADED_SCRIPT, work, str(args.weights or "")],
            capture_output=True,
            text=True,
            timeout=1200,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    by_package: dict[str, int] = defaultdict(int)
    for line in done.stdout.splitlines():
        path = Path(line)
        parts = path.parts
        key = (
            parts[parts.index("site-packages") + 1]
            if "site-packages" in parts
            else str(path.parent)
        )
        by_package[key.removesuffix(".libs")] += path.stat().st_size
    print("| package | shared libraries loaded |")
    print("|---|---|")
    for key, size in sorted(by_package.items(), key=lambda kv: -kv[1]):
        print(f"| {key} | {size / MIB:.1f} MiB |")
    print(f"| total | {sum(by_package.values()) / MIB:.1f} MiB |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.packaging")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="size, start and temp space of builds")
    run_parser.add_argument("builds", nargs="+", metavar="NAME=BINARY")
    run_parser.add_argument("--repeat", type=int, default=3)
    loaded_parser = commands.add_parser("loaded", help="what a CPU task maps")
    loaded_parser.add_argument("--weights", type=Path)
    args = parser.parse_args(argv)
    return run(args) if args.command == "run" else loaded(args)


if __name__ == "__main__":
    sys.exit(main())
