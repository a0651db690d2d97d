"""The plain row type the code reads tasks into matches the table it is read from."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from service.clock import utcnow
from service.models import TASKS, TaskRow, new_task
from service.runtime.db import Database
from service.runtime.migrate import FIRST, migrate
from service.tasks.backends import open_machine
from shared.contract import TaskStatus


def test_task_row_has_exactly_the_columns_of_the_tasks_table_in_order() -> None:
    # one declaration makes both; a column of one missing from the other would be silently
    # dropped or fail on every read
    assert tuple(column.name for column in TASKS.columns) == tuple(TaskRow.model_fields)


def test_a_task_status_is_read_as_the_contract_enum() -> None:
    task = new_task(id="a" * 32, owner="alice", max_attempts=4, now=utcnow())
    row = task.model_dump() | {"status": "QUEUED"}
    assert TaskRow.model_validate(row).status is TaskStatus.QUEUED


def test_a_new_task_starts_uploading_with_the_table_defaults() -> None:
    task = new_task(id="a" * 32, owner="alice", max_attempts=4, now=utcnow())
    assert (task.status, task.attempts, task.max_attempts, task.progress) == (
        "UPLOADING",
        0,
        4,
        0.0,
    )
    assert task.created_at.tzinfo is not None and task.options == {}


def test_file_sizes_beyond_32_bits_are_kept(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    """Uploads may be larger than 2 GiB: sizes are BIGINT, and a database made with 32-bit
    columns is widened at start-up."""
    url = new_database() or f"sqlite+aiosqlite:///{tmp_path / 'sizes.db'}"
    size = 5 * 2**30

    async def scenario() -> int | None:
        db = Database(url)
        try:
            if db.is_postgres:  # as a release before migrations made it
                await migrate(db, revision=FIRST)
                async with db.transaction() as conn:
                    await conn.execute(text("DROP TABLE alembic_version"))
                    await conn.execute(
                        text("ALTER TABLE tasks ALTER COLUMN input_size TYPE INTEGER")
                    )
            await migrate(db)
            await db.open_pool()
            tasks = open_machine(db)
            task = await tasks.create_uploading(owner="alice", max_attempts=3)
            await tasks.mark_queued(
                task_id=task.id,
                filename="big.mp4",
                options={},
                key=f"tasks/{task.id}/input.mp4",
                size=size,
                sha256="0" * 64,
                meta={},
            )
            return (await tasks.get_task(task.id)).input_size
        finally:
            await db.close()

    # its own thread: another test's browser driver may have left an event loop running here
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: asyncio.run(scenario())).result() == size
