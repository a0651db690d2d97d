"""Log benchmark: batched ingest into PostgreSQL, and filtered queries over a million records.

1. Ingest: K clients post batches of records to `POST /api/logs` on the real service (on a
   fresh PostgreSQL server), records/s against a goal of 5,000/s. Reference in the same run:
   the same rows written straight to the same table with asyncpg `executemany` (the database's
   own ceiling for this statement shape), so the ratio shows what HTTP + validation cost.
2. Queries: the table is filled to --records rows (COPY, realistic spread: executors, tasks,
   levels, message texts), ANALYZEd, then each admin filter of `GET /api/admin/logs` is asked
   --repeat times: p50/p95 latency against a goal of p95 < 100 ms. Reference in the same run:
   the service's no-op `GET /health/live` latency (the HTTP floor).

    .venv/bin/python bench/logs.py [--records 1000000] [--ingest 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as a file, too: `python bench/x.py`

import asyncpg
import httpx

from bench.common import machine, percentile, raise_nofile, table
from tests.fixtures.live_service import LiveService
from tests.fixtures.postgres import PostgresServer

LEVELS = [("DEBUG", 10, 0.25), ("INFO", 20, 0.6), ("WARNING", 30, 0.1), ("ERROR", 40, 0.05)]
WORDS = (
    "decoding frame batch detect inpaint encode upload segment mark jump heartbeat lease "
    "progress audio copied stream cuda memory retry network timeout clip portrait landscape"
).split()
RARE = "out of memory on device"


def fake_message(rng: random.Random, index: int) -> str:
    if index % 5000 == 0:
        return f"{RARE} while inpainting batch {index}"
    return " ".join(rng.choices(WORDS, k=rng.randint(4, 12))) + f" #{index}"


def fake_level(rng: random.Random) -> tuple[str, int]:
    roll, total = rng.random(), 0.0
    for name, number, share in LEVELS:
        total += share
        if roll < total:
            return name, number
    return "ERROR", 40


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


# ------------------------------------------------------------------ ingest


async def ingest_http(url: str, *, total: int, batch: int, clients: int) -> float:
    """Records/s through `POST /api/logs`."""
    per_client = total // clients

    async def client(number: int) -> None:
        rng = random.Random(number)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for start in range(0, per_client, batch):
                records = [
                    {
                        "level": fake_level(rng)[0],
                        "message": fake_message(rng, start + i),
                        "task_id": f"{rng.randrange(20000):032x}",
                    }
                    for i in range(min(batch, per_client - start))
                ]
                response = await http.post(
                    "/api/logs", json={"executor_id": f"ET-SoraWM-{number}", "records": records}
                )
                response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return per_client * clients / (time.perf_counter() - started)


async def ingest_direct(dsn: str, *, total: int, batch: int, clients: int) -> float:
    """Records/s with asyncpg executemany of the same shape of rows (the database ceiling)."""
    per_client = total // clients
    sql = (
        "INSERT INTO log_records (ts, level, levelno, executor_id, task_id, client, source, "
        "message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )

    async def client(number: int) -> None:
        rng = random.Random(1000 + number)
        connection = await asyncpg.connect(dsn)
        try:
            for start in range(0, per_client, batch):
                rows = []
                for i in range(min(batch, per_client - start)):
                    level, levelno = fake_level(rng)
                    rows.append(
                        (
                            datetime.now(UTC),
                            level,
                            levelno,
                            f"ET-SoraWM-{number}",
                            f"{rng.randrange(20000):032x}",
                            "127.0.0.1",
                            "executor",
                            fake_message(rng, start + i),
                        )
                    )
                async with connection.transaction():
                    await connection.executemany(sql, rows)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return per_client * clients / (time.perf_counter() - started)


# ------------------------------------------------------------------ fill + query


async def fill(dsn: str, *, records: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        have = await connection.fetchval("SELECT count(*) FROM log_records")
        rng = random.Random(7)
        start = datetime.now(UTC) - timedelta(days=7)
        step = timedelta(days=7) / max(records, 1)
        chunk = 50_000
        for offset in range(have, records, chunk):
            rows = []
            for i in range(offset, min(records, offset + chunk)):
                level, levelno = fake_level(rng)
                rows.append(
                    (
                        start + step * i,
                        level,
                        levelno,
                        f"ET-SoraWM-{rng.randrange(50)}",
                        f"{rng.randrange(20000):032x}",
                        "10.0.0.1",
                        "executor",
                        fake_message(rng, i),
                    )
                )
            await connection.copy_records_to_table(
                "log_records",
                records=rows,
                columns=[
                    "ts",
                    "level",
                    "levelno",
                    "executor_id",
                    "task_id",
                    "client",
                    "source",
                    "message",
                ],
            )
        await connection.execute("ANALYZE log_records")
    finally:
        await connection.close()


async def latencies(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], repeat: int
) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await http.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


async def query_suite(url: str, dsn: str, repeat: int) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        task_id = await connection.fetchval(
            "SELECT task_id FROM log_records ORDER BY id DESC LIMIT 1 OFFSET "
            "(SELECT count(*) / 2 FROM log_records)"
        )
        middle = await connection.fetchval(
            "SELECT ts FROM log_records ORDER BY id LIMIT 1 OFFSET "
            "(SELECT count(*) / 2 FROM log_records)"
        )
        deep_cursor = await connection.fetchval(
            "SELECT id FROM log_records ORDER BY id DESC LIMIT 1 OFFSET "
            "(SELECT count(*) * 2 / 5 FROM log_records)"
        )
    finally:
        await connection.close()
    window = (middle.isoformat(), (middle + timedelta(hours=1)).isoformat())
    cases: list[tuple[str, dict[str, Any]]] = [
        ("newest 100, no filter", {}),
        ("executor", {"executor_id": "ET-SoraWM-17"}),
        ("task", {"task_id": task_id}),
        ("level ≥ ERROR", {"level": "ERROR"}),
        ("text, common word", {"q": "heartbeat"}),
        ("text, rare phrase", {"q": RARE}),
        ("time window (1 h, mid-week)", {"since": window[0], "until": window[1]}),
        ("executor + level ≥ WARNING", {"executor_id": "ET-SoraWM-3", "level": "WARNING"}),
        ("deep page (cursor 40% back)", {"cursor": str(deep_cursor)}),
    ]
    results = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        floor = await latencies(http, "/health/live", {}, repeat)
        for name, params in cases:
            times = await latencies(http, "/api/admin/logs", {"limit": 100, **params}, repeat)
            results.append(
                {"query": name, "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95)}
            )
    results.append(
        {
            "query": "reference: GET /health/live",
            "p50_ms": percentile(floor, 50),
            "p95_ms": percentile(floor, 95),
        }
    )
    return results


# ------------------------------------------------------------------ main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sorawm-bench-logs-"))
    server = PostgresServer(fsync=True)
    server.start()
    try:
        url = server.create_database("bench")
        service = LiveService(workdir, database_url=url, env={"SORAWM_LOG_LEVEL": "WARNING"})
        service.start()
        try:
            dsn = asyncpg_dsn(url)
            direct = await ingest_direct(
                dsn, total=args.ingest, batch=args.batch, clients=args.clients
            )
            via_http = await ingest_http(
                service.url, total=args.ingest, batch=args.batch, clients=args.clients
            )
            print(f"filling to {args.records:,} records…", file=sys.stderr)
            await fill(dsn, records=args.records)
            queries = await query_suite(service.url, dsn, args.repeat)
        finally:
            service.stop()
    finally:
        server.stop()
    return {
        "machine": machine(),
        "ingest": {
            "records": args.ingest,
            "batch": args.batch,
            "clients": args.clients,
            "http_records_per_s": via_http,
            "direct_records_per_s": direct,
        },
        "records": args.records,
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records",
        type=int,
        default=1_000_000,
        help="rows in the table for the query phase (1,000,000)",
    )
    parser.add_argument(
        "--ingest", type=int, default=100_000, help="records posted in the ingest phase (100,000)"
    )
    parser.add_argument("--batch", type=int, default=500, help="records per POST (500)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent posting clients (4)")
    parser.add_argument("--repeat", type=int, default=40, help="requests per query (40)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    raise_nofile()
    result = asyncio.run(run(args))

    ingest = result["ingest"]
    rate, ceiling = ingest["http_records_per_s"], ingest["direct_records_per_s"]
    print(
        f"\nIngest ({ingest['records']:,} records, {ingest['batch']} per batch, "
        f"{ingest['clients']} clients)"
    )
    print(
        table(
            ["path", "records/s", "vs direct", "goal ≥ 5,000/s"],
            [
                [
                    "POST /api/logs",
                    f"{rate:,.0f}",
                    f"{rate / ceiling:.2f}",
                    "met" if rate >= 5000 else "MISSED",
                ],
                ["asyncpg executemany (reference)", f"{ceiling:,.0f}", "1.00", ""],
            ],
        )
    )
    floor = result["queries"][-1]["p95_ms"]
    print(f"\nQueries over {result['records']:,} records (limit 100, p95 goal < 100 ms)")
    print(
        table(
            ["filter", "p50 ms", "p95 ms", "p95 / no-op", "goal"],
            [
                [
                    q["query"],
                    f"{q['p50_ms']:.1f}",
                    f"{q['p95_ms']:.1f}",
                    f"{q['p95_ms'] / floor:.1f}",
                    ""
                    if q["query"].startswith("reference")
                    else ("met" if q["p95_ms"] < 100 else "MISSED"),
                ]
                for q in result["queries"]
            ],
        )
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
