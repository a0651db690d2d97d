"""Transfer benchmark: a big file through the service vs `cp` of the same file on the same disk.

One source file of --size-mib (default 1024 MiB): a tiny real mp4 followed by a `free` box of
padding, so it is still a valid video for the client upload. Measured, --repeat times each,
interleaved, against references taken in the same run:

  cp            `cp SRC DST` on the same filesystem (no fsync: the page cache absorbs it)
  cp+fsync      the same, then fsync of DST (the service fsyncs what it stores)
  result PUT    the executor's `PUT /api/tasks/{id}/result`, raw body streamed from the file by
                httpx with `X-Lease-Token` and `X-Content-SHA256` (a lease from a tiny task)
  result GET    the client's `GET /api/tasks/{id}/result`, streamed to a file (no fsync, like cp)
  submit POST   the client's `POST /api/tasks`, multipart `file` streamed from the file (the
                service stores it, fsyncs it, probes it as a video and queues it)

The source is read once before each measurement and its page-cache residency (fincore) is
reported: the page cache is warm for every side. MB/s is 10^6 bytes per second. The goal is
service MB/s >= 50 % of cp's. The service's peak RSS growth during each transfer is taken from
/proc/PID/status: VmHWM reset through /proc/PID/clear_refs before it (we are root), plus VmRSS
sampled every 20 ms (goal < 64 MB). The service uses its default SQLite database unless
--database-url is given; everything (source, copies, the service's data dir) lives in one work
folder on one filesystem.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as a file, too: `python bench/x.py`

import httpx

from bench.common import machine, raise_nofile, status_kib, table, write_tiny_video
from tests.fixtures.live_service import LiveService

CHUNK = 1024 * 1024


# ---------------------------------------------------------------- files


def make_source(path: Path, size: int, tiny: bytes) -> None:
    """tiny mp4 + one `free` box up to `size` bytes, filled with a repeated random block."""
    pad = size - len(tiny)
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        out.write(tiny)
        if pad - 8 < 2**32 - 8:
            out.write(struct.pack(">I", pad) + b"free")
            body = pad - 8
        else:  # 64-bit box size
            out.write(struct.pack(">I", 1) + b"free" + struct.pack(">Q", pad))
            body = pad - 16
        while body > 0:
            n = min(body, CHUNK)
            out.write(block[:n])
            body -= n


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def warm(path: Path) -> str:
    """Read the file once (into the page cache); fincore's resident bytes / size."""
    with path.open("rb") as f:
        while f.read(4 * CHUNK):
            pass
    try:
        out = subprocess.run(
            ["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
        return f"{int(out[0]) / int(out[1]) * 100:.0f}%"
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return "unknown"


def drop_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# ---------------------------------------------------------------- memory of the service


class PeakRss:
    """Peak RSS of `pid` over a block: VmHWM reset before (clear_refs 5) and VmRSS sampling."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._stop = threading.Event()
        self.samples_peak = 0

    def __enter__(self) -> PeakRss:
        self.hwm_reset = False
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        self.rss_before = status_kib(self.pid, "VmRSS") or 0
        self.hwm_before = status_kib(self.pid, "VmHWM") or 0
        self.samples_peak = self.rss_before
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            rss = status_kib(self.pid, "VmRSS") or 0
            self.samples_peak = max(self.samples_peak, rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.hwm_after = status_kib(self.pid, "VmHWM") or 0
        self.rss_after = status_kib(self.pid, "VmRSS") or 0

    @property
    def growth_mb(self) -> float:
        """Peak RSS during the block minus RSS at its start, MB (10^6 bytes)."""
        peak = max(self.samples_peak, self.hwm_after if self.hwm_reset else 0)
        return (peak - self.rss_before) * 1024 / 1e6


# ---------------------------------------------------------------- the transfers


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def timed_cp(src: Path, dst: Path, *, fsync: bool) -> float:
    drop_file(dst)
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    if fsync:
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    took = time.perf_counter() - start
    drop_file(dst)
    return took


async def lease_for_result(
    client: httpx.AsyncClient, tiny: bytes, executor_id: str
) -> dict[str, Any]:
    submitted = await client.post("/api/tasks", files={"file": ("tiny.mp4", tiny, "video/mp4")})
    submitted.raise_for_status()
    claim = await client.post("/api/tasks/claim", json={"executor_id": executor_id, "wait_s": 0})
    if claim.status_code != 200:
        raise RuntimeError(f"claim failed: {claim.status_code} {claim.text}")
    return claim.json()


async def put_result(
    client: httpx.AsyncClient, claim: dict[str, Any], src: Path, digest: str, size: int
) -> float:
    start = time.perf_counter()
    response = await client.put(
        f"/api/tasks/{claim['task_id']}/result",
        content=file_chunks(src),
        headers={
            "X-Lease-Token": claim["lease_token"],
            "X-Content-SHA256": digest,
            "Content-Length": str(size),
            "Content-Type": "video/mp4",
        },
    )
    took = time.perf_counter() - start
    if response.status_code != 200 or response.json()["result"]["sha256"] != digest:
        raise RuntimeError(f"result upload failed: {response.status_code} {response.text[:300]}")
    return took


async def get_result(client: httpx.AsyncClient, task_id: str, dst: Path, size: int) -> float:
    drop_file(dst)
    start = time.perf_counter()
    received = 0
    async with client.stream("GET", f"/api/tasks/{task_id}/result") as response:
        response.raise_for_status()
        with dst.open("wb") as out:
            async for chunk in response.aiter_raw(CHUNK):
                out.write(chunk)
                received += len(chunk)
    took = time.perf_counter() - start
    if received != size:
        raise RuntimeError(f"download got {received} bytes, expected {size}")
    return took


def check_copy(dst: Path, digest: str) -> None:
    got = sha256_file(dst)
    if got != digest:
        raise RuntimeError(f"downloaded file hashes to {got}, not {digest}")


async def post_submit(client: httpx.AsyncClient, src: Path, digest: str) -> tuple[float, str]:
    start = time.perf_counter()
    with src.open("rb") as f:
        response = await client.post("/api/tasks", files={"file": ("big.mp4", f, "video/mp4")})
    took = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(f"submit failed: {response.status_code} {response.text[:300]}")
    body = response.json()
    if body["input"]["sha256"] != digest:
        raise RuntimeError("the stored input's sha256 differs from the source's")
    return took, body["id"]


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (1024)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements of each kind (3)")
    parser.add_argument(
        "--database-url", default="", help="service database (default: its SQLite file)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="parent folder for the work folder (default: the temp dir)"
    )
    parser.add_argument("--skip-submit", action="store_true", help="leave out the POST upload")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    size = args.size_mib * 1024 * 1024
    tiny = write_tiny_video(work / "tiny.mp4").read_bytes()
    src = work / "source.mp4"
    make_source(src, size, tiny)
    digest = sha256_file(src)
    dst = work / "copy.bin"
    out: dict[str, Any] = {
        "benchmark": "transfer",
        "machine": machine(),
        "size_bytes": size,
        "database": "postgresql (given URL)" if args.database_url else "sqlite (service default)",
        "filesystem": _filesystem(work),
        "samples": [],
    }
    service = LiveService(
        work / "svc", database_url=args.database_url, env={"SORAWM_LOG_LEVEL": "INFO"}
    ).start()
    out["service_rss_start_mb"] = (status_kib(service.pid, "VmRSS") or 0) * 1024 / 1e6
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    try:
        async with httpx.AsyncClient(
            base_url=service.url, limits=limits, timeout=httpx.Timeout(600.0)
        ) as client:
            for index in range(args.repeat):
                sample: dict[str, Any] = {"repeat": index}
                sample["cache_cp"] = warm(src)
                sample["cp_s"] = timed_cp(src, dst, fsync=False)
                sample["cache_cp_fsync"] = warm(src)
                sample["cp_fsync_s"] = timed_cp(src, dst, fsync=True)

                claim = await lease_for_result(client, tiny, f"ET-bench-transfer-{index}")
                sample["cache_put"] = warm(src)
                with PeakRss(service.pid) as mem:
                    sample["put_s"] = await put_result(client, claim, src, digest, size)
                sample["put_rss_growth_mb"] = mem.growth_mb
                sample["put_hwm_reset"] = mem.hwm_reset

                # the stored result was just written: it is in the page cache like cp's source
                with PeakRss(service.pid) as mem:
                    sample["get_s"] = await get_result(client, claim["task_id"], dst, size)
                sample["get_rss_growth_mb"] = mem.growth_mb
                check_copy(dst, digest)
                drop_file(dst)
                (await client.delete(f"/api/tasks/{claim['task_id']}")).raise_for_status()

                if not args.skip_submit:
                    sample["cache_post"] = warm(src)
                    with PeakRss(service.pid) as mem:
                        sample["post_s"], task_id = await post_submit(client, src, digest)
                    sample["post_rss_growth_mb"] = mem.growth_mb
                    (await client.delete(f"/api/tasks/{task_id}")).raise_for_status()
                out["samples"].append(sample)
                print(
                    f"  repeat {index}: cp {size / sample['cp_s'] / 1e6:.0f} MB/s, "
                    f"cp+fsync {size / sample['cp_fsync_s'] / 1e6:.0f}, "
                    f"PUT {size / sample['put_s'] / 1e6:.0f}, GET {size / sample['get_s'] / 1e6:.0f}"
                    + ("" if args.skip_submit else f", POST {size / sample['post_s'] / 1e6:.0f}"),
                    flush=True,
                )
        out["service_rss_end_mb"] = (status_kib(service.pid, "VmRSS") or 0) * 1024 / 1e6
    finally:
        service.stop()
    summarize(out, size, skip_submit=args.skip_submit)
    return out


def summarize(out: dict[str, Any], size: int, *, skip_submit: bool) -> None:
    samples = out["samples"]

    def mbps(key: str) -> float:
        # median of the per-repeat rates
        return statistics.median(size / s[key] / 1e6 for s in samples)

    def ratio(key: str, ref: str) -> float:
        # median of the per-repeat ratios (each against the cp measured next to it)
        return statistics.median(s[ref] / s[key] for s in samples)

    cp, cpf = mbps("cp_s"), mbps("cp_fsync_s")
    rows = []
    kinds = [
        ("result PUT (executor upload)", "put_s", "put_rss_growth_mb"),
        ("result GET (client download)", "get_s", "get_rss_growth_mb"),
    ]
    if not skip_submit:
        kinds.append(("submit POST (client multipart upload)", "post_s", "post_rss_growth_mb"))
    summary = {"cp_mb_s": cp, "cp_fsync_mb_s": cpf, "kinds": {}}
    for name, key, rss_key in kinds:
        r = ratio(key, "cp_s")
        rss = max(s[rss_key] for s in samples)
        summary["kinds"][name] = {
            "mb_s": mbps(key),
            "ratio_vs_cp": r,
            "ratio_vs_cp_fsync": ratio(key, "cp_fsync_s"),
            "goal_ratio": 0.5,
            "peak_rss_growth_mb": rss,
            "goal_rss_mb": 64,
            "met_ratio": r >= 0.5,
            "met_rss": rss < 64,
        }
        rows.append(
            [
                name,
                r,
                "met" if r >= 0.5 else "MISSED",
                ratio(key, "cp_fsync_s"),
                mbps(key),
                rss,
                "met" if rss < 64 else "MISSED",
            ]
        )
    out["summary"] = summary
    out["page_cache"] = sorted({v for s in samples for k, v in s.items() if k.startswith("cache_")})
    print()
    print(
        f"{size / 2**20:.0f} MiB through the service vs cp on the same filesystem "
        f"(median of {len(samples)}; cp {cp:.0f} MB/s, cp+fsync {cpf:.0f} MB/s; "
        f"source page-cache residency before each: {', '.join(out['page_cache'])})"
    )
    print(
        table(
            [
                "transfer",
                "vs cp",
                "goal>=0.5",
                "vs cp+fsync",
                "MB/s",
                "peak RSS growth MB",
                "goal<64MB",
            ],
            rows,
        )
    )


def _filesystem(path: Path) -> str:
    try:
        return (
            subprocess.run(
                ["df", "--output=source,fstype", str(path)], capture_output=True, text=True
            )
            .stdout.split("\n")[1]
            .strip()
        )
    except (OSError, IndexError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile()  # the service started below inherits the limit
    work = Path(tempfile.mkdtemp(prefix="sorawm-bench-transfer-", dir=args.workdir))
    started = time.perf_counter()
    print(f"transfer benchmark, work folder {work} ({_filesystem(work)})", flush=True)
    try:
        out = asyncio.run(run(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["total_s"] = round(time.perf_counter() - started, 1)
    print(f"\ntotal {out['total_s']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
