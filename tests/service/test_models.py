"""The plain row type the code reads tasks into matches the table it is read from."""

from __future__ import annotations

from service.models import TASK_ROW_FIELDS, TASKS, new_task


def test_task_row_has_exactly_the_columns_of_the_tasks_table_in_order() -> None:
    # `task_from_row` reads columns by these names; a column added to one and not the other
    # would be silently dropped or fail on every read
    assert tuple(column.name for column in TASKS.columns) == TASK_ROW_FIELDS


def test_a_new_task_starts_uploading_with_the_table_defaults() -> None:
    task = new_task(id="a" * 32, owner="alice", max_attempts=4)
    assert (task.status, task.attempts, task.max_attempts, task.progress) == (
        "UPLOADING",
        0,
        4,
        0.0,
    )
    assert task.created_at.tzinfo is not None and task.options == {}
