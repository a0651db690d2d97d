"""The reduced soak: 100 tasks through 4 executor processes across 2 replicas on PostgreSQL,
executors killed at random: nothing lost, nothing finished twice, every result its own."""

from __future__ import annotations

from pathlib import Path

from bench.soak import soak
from tests.fixtures.postgres import PostgresServer


def test_a_reduced_soak_loses_nothing_and_finishes_nothing_twice(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    phases = soak(
        tasks=100,
        executors=4,
        kills=4,
        work_dir=tmp_path,
        database_url=postgres_server.create_database(),
        deadline_s=120,
    )

    for phase in phases:
        assert (phase.lost, phase.finished_twice, phase.wrong_results) == (0, 0, 0), phase
        assert phase.finished == phase.tasks, phase
    assert phases[0].kills > 0  # executors really died under it
