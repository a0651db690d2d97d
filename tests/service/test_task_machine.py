"""The task state machine's contract: the same specifications against each backend.

Every test runs on SQLite (`SqlTaskMachine`) and on a real PostgreSQL server
(`PostgresTaskMachine`), on an injected clock: a lease "runs out" when the test moves the clock
past it, so nothing waits for real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.errors import InvalidTransition, LeaseLost, TaskNotFound
from service.models import TaskRow
from service.runtime.db import Database
from service.runtime.migrate import migrate
from service.tasks import postgres as pg_statements
from service.tasks import queries
from service.tasks.backends import open_machine
from service.tasks.machine import TaskMachine
from service.tasks.postgres import PostgresTaskMachine
from service.tasks.sql import SqlTaskMachine
from tests.fixtures.postgres import PostgresServer

LEASE_S = 30.0


class FakeClock:
    """UTC time that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


Scenario = Callable[[TaskMachine, FakeClock], Awaitable[Any]]


@pytest.fixture
def run(new_database: Callable[[], str], tmp_path: Path) -> Callable[[Scenario], Any]:
    """Runs a scenario against a machine over a fresh database, in a loop of its own."""
    url = new_database() or f"sqlite+aiosqlite:///{tmp_path / 'machine.db'}"

    async def main(scenario: Scenario) -> Any:
        db = Database(url)
        try:
            await migrate(db)
            await db.open_pool()
            clock = FakeClock()
            return await scenario(open_machine(db, clock=clock), clock)
        finally:
            await db.close()

    def go(scenario: Scenario) -> Any:
        # its own thread: another test's browser driver may have left an event loop running here
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(lambda: asyncio.run(main(scenario))).result()

    return go


def clock_of(tasks: TaskMachine) -> FakeClock:
    assert isinstance(tasks.clock, FakeClock)
    return tasks.clock


async def queued(
    tasks: TaskMachine, *, owner: str = "alice", max_attempts: int = 3, **options: Any
) -> TaskRow:
    """A task whose input is stored: QUEUED, one clock second after the previous one."""
    clock_of(tasks).advance(1)
    task = await tasks.create_uploading(owner=owner, max_attempts=max_attempts)
    return await tasks.mark_queued(
        task_id=task.id,
        filename="in.mp4",
        options=options,
        key=f"tasks/{task.id}/input.mp4",
        size=1000,
        sha256="0" * 64,
        meta={},
    )


async def claim(tasks: TaskMachine, executor_id: str = "ex-1", **kwargs: Any) -> TaskRow | None:
    return await tasks.claim_next(
        executor_id=executor_id, capabilities={}, lease_s=LEASE_S, **kwargs
    )


async def claimed(tasks: TaskMachine, executor_id: str = "ex-1") -> TaskRow:
    task = await claim(tasks, executor_id)
    assert task is not None and task.lease_token is not None
    return task


async def beat(tasks: TaskMachine, task: TaskRow, **kwargs: Any) -> Any:
    assert task.lease_token is not None
    values = {"progress": None, "stage": None, "message": None} | kwargs
    return await tasks.renew_lease(
        task_id=task.id, lease_token=task.lease_token, lease_s=LEASE_S, **values
    )


async def finish(tasks: TaskMachine, task: TaskRow) -> TaskRow:
    assert task.lease_token is not None
    return await tasks.mark_finished(
        task_id=task.id, lease_token=task.lease_token, key="r.mp4", size=10, sha256="1" * 64
    )


async def fail(tasks: TaskMachine, task: TaskRow, *, retryable: bool) -> TaskRow:
    assert task.lease_token is not None
    return await tasks.mark_failed(
        task_id=task.id, lease_token=task.lease_token, error="boom", retryable=retryable
    )


def test_each_database_gets_its_own_backend(run: Callable[[Scenario], Any], backend: str) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> type:
        return type(tasks)

    expected = PostgresTaskMachine if backend == "postgres" else SqlTaskMachine
    assert run(scenario) is expected


def test_a_queued_task_is_claimed_once(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[Any, ...]:
        task = await queued(tasks)
        first = await claimed(tasks, "ex-1")
        second = await claim(tasks, "ex-2")
        return task.id, first.id, first.status, first.attempts, first.executor_id, second

    task_id, first_id, status, attempts, executor_id, second = run(scenario)
    assert (first_id, status, attempts, executor_id, second) == (
        task_id,
        "PROCESSING",
        1,
        "ex-1",
        None,
    )


def test_claims_running_at_once_hand_a_task_to_exactly_one(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> list[str]:
        await queued(tasks)
        got = await asyncio.gather(*(claim(tasks, f"ex-{n}") for n in range(8)))
        return [task.id for task in got if task is not None]

    assert len(run(scenario)) == 1


def test_claims_take_the_oldest_queued_task_first(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[list[str], list[str]]:
        made = [(await queued(tasks)).id for _ in range(3)]
        taken = [(await claimed(tasks)).id for _ in range(3)]
        return made, taken

    made, taken = run(scenario)
    assert taken == made


def test_a_task_asking_for_an_inpainter_the_executor_lacks_waits_untouched(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[Any, ...]:
        task = await queued(tasks, inpainter="lama")
        skipped = await claim(tasks, inpainters=["telea", "temporal"])
        waiting = await tasks.get_task(task.id)
        taken = await claim(tasks, inpainters=["telea", "temporal", "lama"])
        return skipped, waiting.status, waiting.attempts, taken and taken.id, task.id

    skipped, status, attempts, taken_id, task_id = run(scenario)
    assert (skipped, status, attempts, taken_id) == (None, "QUEUED", 0, task_id)


def test_a_heartbeat_extends_the_lease_from_now_and_stores_progress(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[Any, ...]:
        await queued(tasks)
        task = await claimed(tasks)
        clock_of(tasks).advance(20)
        renewal = await beat(tasks, task, progress=42.0, stage="inpaint", message="frame 10")
        stored = await tasks.get_task(task.id)
        expected = clock_of(tasks)() + timedelta(seconds=LEASE_S)
        return renewal.cancel, renewal.lease_expires_at == expected, stored

    cancel, extended, stored = run(scenario)
    assert (cancel, extended) == (False, True)
    assert (stored.progress, stored.stage, stored.message) == (42.0, "inpaint", "frame 10")


def test_a_heartbeat_under_a_stale_lease_is_refused(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> None:
        await queued(tasks)
        task = await claimed(tasks)
        task.lease_token = "not-the-lease"
        await beat(tasks, task, progress=1.0)

    with pytest.raises(LeaseLost):
        run(scenario)


def test_a_result_finishes_the_task_exactly_once(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[TaskRow, bool]:
        await queued(tasks)
        task = await claimed(tasks)
        done = await finish(tasks, task)
        try:
            await finish(tasks, task)
        except LeaseLost:
            return done, True
        return done, False

    done, second_refused = run(scenario)
    assert (done.status, done.progress, done.result_sha256, second_refused) == (
        "FINISHED",
        100.0,
        "1" * 64,
        True,
    )


def test_a_lease_is_not_taken_back_before_it_runs_out(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[list[TaskRow], str]:
        await queued(tasks)
        task = await claimed(tasks)
        clock_of(tasks).advance(LEASE_S - 1)
        swept = await tasks.requeue_expired()
        return swept, (await tasks.get_task(task.id)).status

    assert run(scenario) == ([], "PROCESSING")


def test_a_lease_that_ran_out_goes_back_to_the_queue_and_its_token_is_dead(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[list[str], str, bool]:
        await queued(tasks)
        task = await claimed(tasks)
        clock_of(tasks).advance(LEASE_S + 1)
        swept = [swept.status for swept in await tasks.requeue_expired()]
        try:
            await finish(tasks, task)
        except LeaseLost:
            refused = True
        else:
            refused = False
        return swept, (await tasks.get_task(task.id)).status, refused

    assert run(scenario) == (["QUEUED"], "QUEUED", True)


def test_a_lease_that_ran_out_on_the_last_attempt_ends_in_error_with_the_reason(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> TaskRow:
        task = await queued(tasks, max_attempts=1)
        await claimed(tasks)
        clock_of(tasks).advance(LEASE_S + 1)
        await tasks.requeue_expired()
        return await tasks.get_task(task.id)

    task = run(scenario)
    assert task.status == "ERROR" and task.finished_at is not None
    assert task.error == "the executor stopped reporting (lease expired) on each of 1 attempts"


def test_a_retryable_failure_requeues_until_the_attempts_are_spent(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> list[tuple[str, str | None]]:
        await queued(tasks, max_attempts=2)
        seen = []
        for _attempt in range(2):
            failed = await fail(tasks, await claimed(tasks), retryable=True)
            seen.append((failed.status, failed.error))
        return seen

    assert run(scenario) == [("QUEUED", "boom"), ("ERROR", "boom (no attempts left)")]


def test_a_final_failure_ends_the_task_at_once(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> TaskRow:
        await queued(tasks, max_attempts=3)
        return await fail(tasks, await claimed(tasks), retryable=False)

    task = run(scenario)
    assert (task.status, task.attempts, task.error) == ("ERROR", 1, "boom")


def test_a_queued_task_cancels_at_once(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[str, TaskRow | None]:
        task = await queued(tasks)
        cancelled = await tasks.request_cancel(task_id=task.id)
        return cancelled.status, await claim(tasks)

    assert run(scenario) == ("CANCELLED", None)


def test_a_running_task_cancels_on_its_next_heartbeat(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[bool, bool, str]:
        await queued(tasks)
        task = await claimed(tasks)
        flagged = await tasks.request_cancel(task_id=task.id)
        renewal = await beat(tasks, task)
        return flagged.cancel_requested, renewal.cancel, (await tasks.get_task(task.id)).status

    assert run(scenario) == (True, True, "CANCELLED")


def test_a_cancelled_task_whose_lease_ran_out_ends_cancelled(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> list[str]:
        await queued(tasks)
        task = await claimed(tasks)
        await tasks.request_cancel(task_id=task.id)
        clock_of(tasks).advance(LEASE_S + 1)
        return [swept.status for swept in await tasks.requeue_expired()]

    assert run(scenario) == ["CANCELLED"]


def test_an_ended_task_cannot_be_cancelled(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> None:
        await queued(tasks)
        task = await finish(tasks, await claimed(tasks))
        await tasks.request_cancel(task_id=task.id)

    with pytest.raises(InvalidTransition, match="FINISHED"):
        run(scenario)


def test_a_running_task_cannot_be_deleted(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> None:
        await queued(tasks)
        await tasks.delete_task(task_id=(await claimed(tasks)).id)

    with pytest.raises(InvalidTransition, match="PROCESSING"):
        run(scenario)


def test_a_deleted_task_is_gone(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> TaskRow | None:
        task = await queued(tasks)
        await tasks.delete_task(task_id=task.id)
        return await tasks.find_task(task.id)

    assert run(scenario) is None


def test_another_owners_task_reads_as_missing(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> None:
        task = await queued(tasks, owner="alice")
        await tasks.get_task(task.id, owner="bob")

    with pytest.raises(TaskNotFound):
        run(scenario)


def test_a_restart_gives_every_running_lease_a_full_period_from_now(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[int, bool]:
        await queued(tasks)
        task = await claimed(tasks)
        clock_of(tasks).advance(LEASE_S * 10)  # the service was down for a while
        extended = await tasks.grant_restart_grace(lease_s=LEASE_S)
        stored = await tasks.get_task(task.id)
        assert stored.lease_expires_at is not None
        expected = clock_of(tasks)() + timedelta(seconds=LEASE_S)
        return extended, stored.lease_expires_at.replace(tzinfo=UTC) == expected

    assert run(scenario) == (1, True)


def test_uploads_cut_off_are_discarded_and_fresh_ones_kept(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[list[str], str, str]:
        stale = await tasks.create_uploading(owner="alice", max_attempts=3)
        clock_of(tasks).advance(600)
        fresh = await tasks.create_uploading(owner="alice", max_attempts=3)
        cutoff = clock_of(tasks)() - timedelta(seconds=300)
        return await tasks.abandon_stale_uploads(older_than=cutoff), stale.id, fresh.id

    removed, stale_id, _fresh_id = run(scenario)
    assert removed == [stale_id]


def test_retention_takes_each_ended_task_once(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[list[str], list[str], str]:
        await queued(tasks)
        done = await finish(tasks, await claimed(tasks))
        await queued(tasks)  # still waiting: never purged
        clock_of(tasks).advance(3600)
        cutoff = clock_of(tasks)() - timedelta(seconds=60)
        first = [task.id for task in await tasks.mark_files_purged(ended_before=cutoff)]
        second = [task.id for task in await tasks.mark_files_purged(ended_before=cutoff)]
        return first, second, done.id

    first, second, done_id = run(scenario)
    assert (first, second) == ([done_id], [])


def test_the_executor_row_follows_its_lease(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> list[tuple[str | None, int, int]]:
        assert isinstance(tasks, SqlTaskMachine)  # both backends are; for its database
        await queued(tasks)
        await queued(tasks)
        seen = []

        async def row() -> tuple[str | None, int, int]:
            [(executor, _progress)] = await queries.list_executors(tasks.db)
            return executor.current_task_id, executor.done, executor.failed

        first = await claimed(tasks)
        seen.append(await row())
        await finish(tasks, first)
        seen.append(await row())
        await fail(tasks, await claimed(tasks), retryable=False)
        seen.append(await row())
        return [(first.id if held == first.id else held, *counts) for held, *counts in seen]

    rows = run(scenario)
    assert [(held is not None, done, failed) for held, done, failed in rows] == [
        (True, 0, 0),
        (False, 1, 0),
        (False, 1, 1),
    ]


def test_an_idle_poll_registers_the_executor_and_its_capabilities(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> dict[str, Any]:
        assert isinstance(tasks, SqlTaskMachine)
        await tasks.seen_idle(executor_id="ex-9", capabilities={"device": "cpu"})
        [(executor, _progress)] = await queries.list_executors(tasks.db)
        return {"id": executor.id, "caps": executor.capabilities, "task": executor.current_task_id}

    assert run(scenario) == {"id": "ex-9", "caps": {"device": "cpu"}, "task": None}


def test_the_postgres_statements_return_exactly_a_task_rows_columns(
    postgres_server: PostgresServer,
) -> None:
    """The hand-written SQL is checked against the one description of a task: each statement
    that hands back a task returns the columns `TaskRow` declares, in its order."""
    url = postgres_server.create_database()

    async def columns() -> dict[str, list[str]]:
        db = Database(url)
        try:
            await migrate(db)
            connection = await db.connect()
            try:
                found = {}
                for name in ("CLAIM", "FINISH", "GET"):
                    statement = await connection.prepare(getattr(pg_statements, name))
                    found[name] = [attribute.name for attribute in statement.get_attributes()]
                return found
            finally:
                await connection.close()
        finally:
            await db.close()

    with ThreadPoolExecutor(1) as pool:
        found = pool.submit(lambda: asyncio.run(columns())).result()
    assert found == {name: list(TaskRow.model_fields) for name in ("CLAIM", "FINISH", "GET")}


def test_a_cancel_wins_over_a_retryable_failure_reported_before_the_next_heartbeat(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[str, TaskRow | None]:
        await queued(tasks)
        task = await claimed(tasks)
        await tasks.request_cancel(task_id=task.id)
        failed = await fail(tasks, task, retryable=True)
        return failed.status, await claim(tasks, "ex-2")

    assert run(scenario) == ("CANCELLED", None)


def test_a_task_handed_back_is_queued_again_with_its_attempt_not_counted(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[Any, ...]:
        await queued(tasks)
        task = await claimed(tasks)
        assert task.lease_token is not None
        back = await tasks.hand_back(task_id=task.id, lease_token=task.lease_token)
        try:
            await finish(tasks, task)
        except LeaseLost:
            refused = True
        else:
            refused = False
        again = await claimed(tasks, "ex-2")
        return back.status, back.attempts, back.executor_id, refused, again.attempts

    assert run(scenario) == ("QUEUED", 0, None, True, 1)


def test_an_upload_still_receiving_bytes_is_not_taken_for_stale(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[list[str], bool, bool]:
        upload = await tasks.create_uploading(owner="alice", max_attempts=3)
        clock_of(tasks).advance(600)
        touched = await tasks.touch_upload(task_id=upload.id)
        cutoff = clock_of(tasks)() - timedelta(seconds=300)
        removed = await tasks.abandon_stale_uploads(older_than=cutoff)
        clock_of(tasks).advance(600)
        reaped = await tasks.abandon_stale_uploads(older_than=clock_of(tasks)())
        return removed, touched, await tasks.touch_upload(task_id=upload.id) or bool(not reaped)

    assert run(scenario) == ([], True, False)


async def fault(tasks: TaskMachine, task: TaskRow, error: str = "disk full") -> TaskRow:
    assert task.lease_token is not None
    return await tasks.mark_failed(
        task_id=task.id,
        lease_token=task.lease_token,
        error=error,
        retryable=True,
        executor_fault=True,
    )


def test_an_executor_fault_hands_the_task_back_without_using_an_attempt(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[Any, ...]:
        await queued(tasks, max_attempts=1)
        back = await fault(tasks, await claimed(tasks, "broken"))
        again = await claimed(tasks, "healthy")  # the one attempt is still there
        done = await finish(tasks, again)
        return back.status, back.attempts, back.executor_faults, done.status

    assert run(scenario) == ("QUEUED", 0, 1, "FINISHED")


def test_an_executor_that_faulted_cools_down_and_another_takes_the_task(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[Any, ...]:
        task = await queued(tasks)
        await fault(tasks, await claimed(tasks, "broken"))
        refused = await claim(tasks, "broken")
        left = await tasks.cooldown_left(executor_id="broken")
        taken = await claimed(tasks, "healthy")
        return refused, left, taken.id == task.id

    assert run(scenario) == (None, 30.0, True)


def test_a_cooldown_doubles_with_faults_in_a_row_and_ends(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> list[float]:
        await queued(tasks)
        seen = []
        for _fault in range(3):
            await fault(tasks, await claimed(tasks, "broken"))
            seen.append(await tasks.cooldown_left(executor_id="broken"))
            clock_of(tasks).advance(seen[-1])
        seen.append(await tasks.cooldown_left(executor_id="broken"))
        return seen

    assert run(scenario) == [30.0, 60.0, 120.0, 0.0]


def test_a_finished_task_ends_an_executors_run_of_faults(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> float:
        await queued(tasks)
        await queued(tasks)
        await fault(tasks, await claimed(tasks, "flaky"))
        clock_of(tasks).advance(30)
        await finish(tasks, await claimed(tasks, "flaky"))
        await fault(tasks, await claimed(tasks, "flaky"))
        return await tasks.cooldown_left(executor_id="flaky")

    assert run(scenario) == 30.0  # the first of a new run, not the second in a row


def test_a_task_no_executor_can_run_ends_in_error_with_every_reason(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> TaskRow:
        task = await queued(tasks, max_attempts=3)
        for number in range(5):  # the default limit
            await fault(tasks, await claimed(tasks, f"ex-{number}"), f"reason {number}")
        return await tasks.get_task(task.id)

    task = run(scenario)
    assert (task.status, task.attempts, task.executor_faults) == ("ERROR", 1, 5)
    assert task.error is not None and task.error.startswith("no executor could run it")
    assert all(f"ex-{n}: reason {n}" in task.error for n in range(5))


def test_a_task_that_beats_without_progress_is_taken_back_as_stalled(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> tuple[list[str], str | None, bool]:
        await queued(tasks)
        task = await claimed(tasks)
        await beat(tasks, task, progress=10.0, stage="detect")
        for _beat in range(4):  # the lease is kept alive, the progress is not
            clock_of(tasks).advance(10)
            await beat(tasks, task, progress=10.0, stage="detect")
        swept = [swept.status for swept in await tasks.requeue_stalled(stalled_s=35)]
        stored = await tasks.get_task(task.id)
        try:
            await finish(tasks, task)
        except LeaseLost:
            return swept, stored.error, True
        return swept, stored.error, False

    assert run(scenario) == (["QUEUED"], "its progress did not move for 35 s", True)


def test_progress_stage_or_message_moving_keeps_a_task(run: Callable[[Scenario], Any]) -> None:
    async def scenario(tasks: TaskMachine, _: FakeClock) -> list[TaskRow]:
        await queued(tasks)
        task = await claimed(tasks)
        for step in range(6):
            clock_of(tasks).advance(10)
            if step % 3 == 0:
                await beat(tasks, task, progress=float(step))
            elif step % 3 == 1:
                await beat(tasks, task, stage=f"stage {step}")
            else:
                await beat(tasks, task, message=f"{step} MiB of 9")
        return await tasks.requeue_stalled(stalled_s=15)

    assert run(scenario) == []
