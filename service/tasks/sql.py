"""The state machine on SQLAlchemy Core: SQLite's backend, and the portable statements the
PostgreSQL backend keeps for its cold paths. The transitions are listed in
`service.tasks.machine`."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import (
    String,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.clock import Clock, aware, utcnow
from service.errors import InvalidTransition, LeaseLost, SubmitInProgress, TaskNotFound
from service.models import EXECUTORS, TASKS, TaskRow, new_task, task_from_row
from service.runtime.db import Database
from service.tasks.machine import FaultPolicy, Renewal, ensure_leased
from shared.contract import BASE_INPAINTERS, ENDED_STATUSES, TaskStatus

QUEUED = TaskStatus.QUEUED.value
PROCESSING = TaskStatus.PROCESSING.value
ENDED = [status.value for status in ENDED_STATUSES]


def task_log(task_id: str, executor_id: str | None = None) -> Any:
    return logger.bind(task_id=task_id, executor_id=executor_id)


def log_claimed(task: TaskRow, executor_id: str) -> None:
    task_log(task.id, executor_id).info(
        "QUEUED → PROCESSING by {} (attempt {}/{})", executor_id, task.attempts, task.max_attempts
    )


def log_cancelled_on_beat(task_id: str, executor_id: str | None) -> None:
    task_log(task_id, executor_id).info("PROCESSING → CANCELLED (executor told on heartbeat)")


def new_lease_token() -> str:
    return secrets.token_urlsafe(24)


class SqlTaskMachine:
    """Every transition as one SQLAlchemy Core statement in one short transaction."""

    def __init__(
        self, db: Database, *, clock: Clock = utcnow, faults: FaultPolicy | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.faults = faults or FaultPolicy()

    # ------------------------------------------------------------ reads

    async def find_task(self, task_id: str) -> TaskRow | None:
        async with self.db.transaction() as conn:
            return await _get(conn, task_id)

    async def get_task(self, task_id: str, *, owner: str | None = None) -> TaskRow:
        task = await self.find_task(task_id)
        if task is None or (owner is not None and task.owner != owner):
            raise TaskNotFound()
        return task

    async def leased_task(self, *, task_id: str, lease_token: str | None) -> TaskRow:
        task = await self.find_task(task_id)
        if task is None:
            raise TaskNotFound()
        return ensure_leased(task, lease_token)

    # ------------------------------------------------------------ upload

    async def create_uploading(
        self, *, owner: str, max_attempts: int, idempotency_key: str | None = None
    ) -> TaskRow:
        task = new_task(
            id=secrets.token_hex(16),
            owner=owner,
            max_attempts=max_attempts,
            now=self.clock(),
            idempotency_key=idempotency_key,
        )
        try:
            async with self.db.transaction() as conn:
                await conn.execute(insert(TASKS).values(**task.model_dump()))
        except IntegrityError as exc:
            if idempotency_key is None:
                raise
            raise SubmitInProgress() from exc
        task_log(task.id).info("task created for {} → UPLOADING", owner)
        return task

    async def find_by_idempotency_key(self, *, owner: str, key: str) -> TaskRow | None:
        stmt = select(TASKS).where(TASKS.c.owner == owner, TASKS.c.idempotency_key == key)
        async with self.db.transaction() as conn:
            row = (await conn.execute(stmt)).first()
        return task_from_row(row) if row is not None else None

    async def mark_queued(
        self,
        *,
        task_id: str,
        filename: str,
        options: dict[str, Any],
        key: str,
        size: int,
        sha256: str,
        meta: dict[str, Any],
        message: str | None = None,
    ) -> TaskRow:
        stmt = (
            update(TASKS)
            .where(TASKS.c.id == task_id, TASKS.c.status == TaskStatus.UPLOADING.value)
            .values(
                status=QUEUED,
                input_filename=filename,
                options=options,
                input_path=key,
                input_size=size,
                input_sha256=sha256,
                input_meta=meta,
                message=message,
                updated_at=self.clock(),
            )
        )
        async with self.db.transaction() as conn:
            task = await _returning_one(conn, stmt)
        if task is None:
            raise InvalidTransition("the upload was abandoned before it completed")
        task_log(task_id).info("UPLOADING → QUEUED ({} bytes, sha256 {})", size, sha256[:12])
        return task

    async def discard_upload(self, *, task_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                delete(TASKS).where(
                    TASKS.c.id == task_id, TASKS.c.status == TaskStatus.UPLOADING.value
                )
            )
        task_log(task_id).info("upload failed → task discarded")

    async def touch_upload(self, *, task_id: str) -> bool:
        stmt = (
            update(TASKS)
            .where(TASKS.c.id == task_id, TASKS.c.status == TaskStatus.UPLOADING.value)
            .values(updated_at=self.clock())
        )
        async with self.db.transaction() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def abandon_stale_uploads(self, *, older_than: datetime) -> list[str]:
        stmt = (
            delete(TASKS)
            .where(TASKS.c.status == TaskStatus.UPLOADING.value, TASKS.c.updated_at < older_than)
            .returning(TASKS.c.id)
        )
        async with self.db.transaction() as conn:
            ids = list((await conn.execute(stmt)).scalars().all())
        for task_id in ids:
            task_log(task_id).warning("upload never completed → task discarded")
        return ids

    # ------------------------------------------------------------ executor side

    async def claim_next(
        self,
        *,
        executor_id: str,
        capabilities: dict[str, Any],
        lease_s: float,
        inpainters: list[str] | None = None,
    ) -> TaskRow | None:
        runs = list(BASE_INPAINTERS) if inpainters is None else inpainters
        now = self.clock()
        wanted = TASKS.c.options["inpainter"].as_string()
        cooling = exists().where(EXECUTORS.c.id == executor_id, EXECUTORS.c.cooldown_until > now)
        oldest = (
            select(TASKS.c.id)
            .where(TASKS.c.status == QUEUED, or_(wanted.is_(None), wanted.in_(runs)), ~cooling)
            .order_by(TASKS.c.created_at, TASKS.c.id)
            .limit(1)
        )
        stmt = (
            update(TASKS)
            # the status guard is the compare-and-set: SQLite has no row lock
            .where(TASKS.c.id == oldest.scalar_subquery(), TASKS.c.status == QUEUED)
            .values(
                status=PROCESSING,
                attempts=TASKS.c.attempts + 1,
                lease_token=new_lease_token(),
                lease_expires_at=now + timedelta(seconds=lease_s),
                executor_id=executor_id,
                progress=0.0,
                stage="claimed",
                message=None,
                started_at=now,
                progress_at=now,
                updated_at=now,
            )
        )
        async with self.db.transaction() as conn:
            task = await _returning_one(conn, stmt)
            await _touch_executor(
                conn,
                executor_id,
                now=now,
                capabilities=capabilities,
                current_task_id=task.id if task else None,
            )
        if task is not None:
            log_claimed(task, executor_id)
        return task

    async def seen_idle(self, *, executor_id: str, capabilities: dict[str, Any]) -> None:
        async with self.db.transaction() as conn:
            await _touch_executor(
                conn, executor_id, now=self.clock(), capabilities=capabilities, current_task_id=None
            )

    async def renew_lease(
        self,
        *,
        task_id: str,
        lease_token: str,
        lease_s: float,
        progress: float | None,
        stage: str | None,
        message: str | None,
    ) -> Renewal:
        now = self.clock()
        owned = _held(task_id, lease_token)
        values: dict[str, Any] = {
            "lease_expires_at": now + timedelta(seconds=lease_s),
            "updated_at": now,
        }
        moved = []  # any of them changing is evidence that the work goes on
        if progress is not None:
            values["progress"] = progress
            moved.append(TASKS.c.progress.is_distinct_from(progress))
        if stage is not None:
            values["stage"] = stage
            moved.append(TASKS.c.stage.is_distinct_from(stage))
        if message is not None:
            values["message"] = message
            moved.append(TASKS.c.message.is_distinct_from(message))
        if moved:
            values["progress_at"] = case((or_(*moved), now), else_=TASKS.c.progress_at)
        async with self.db.transaction() as conn:
            task = await _returning_one(
                conn,
                update(TASKS).where(*owned, TASKS.c.cancel_requested.is_(False)).values(**values),
            )
            if task is not None:
                await _touch_executor(conn, task.executor_id, now=now, current_task_id=task_id)
                return Renewal(lease_expires_at=values["lease_expires_at"], cancel=False)
            # a cancel was asked: this beat tells the executor, and the task ends here
            task = await _returning_one(
                conn,
                update(TASKS)
                .where(*owned, TASKS.c.cancel_requested.is_(True))
                .values(
                    status=TaskStatus.CANCELLED.value,
                    lease_expires_at=None,
                    stage="cancelled",
                    finished_at=now,
                    updated_at=now,
                ),
            )
            if task is None:
                raise LeaseLost()
            await _touch_executor(conn, task.executor_id, now=now, current_task_id=None)
        log_cancelled_on_beat(task_id, task.executor_id)
        return Renewal(lease_expires_at=now, cancel=True)

    async def hand_back(self, *, task_id: str, lease_token: str) -> TaskRow:
        now = self.clock()
        stmt = (
            update(TASKS)
            .where(*_held(task_id, lease_token))
            .values(
                status=QUEUED,
                attempts=TASKS.c.attempts - 1,
                lease_token=None,
                lease_expires_at=None,
                executor_id=None,
                stage=None,
                started_at=None,
                updated_at=now,
            )
        )
        async with self.db.transaction() as conn:
            task = await _returning_one(conn, stmt)
            if task is None:
                raise LeaseLost()
            await conn.execute(
                update(EXECUTORS)
                .where(EXECUTORS.c.current_task_id == task_id)
                .values(current_task_id=None)
            )
        task_log(task_id).info("PROCESSING → QUEUED: handed back unseen (the executor hung up)")
        return task

    async def mark_finished(
        self, *, task_id: str, lease_token: str, key: str, size: int, sha256: str
    ) -> TaskRow:
        now = self.clock()
        stmt = (
            update(TASKS)
            .where(*_held(task_id, lease_token))
            .values(
                status=TaskStatus.FINISHED.value,
                progress=100.0,
                stage="finished",
                result_path=key,
                result_size=size,
                result_sha256=sha256,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
        )
        task = await self._end_lease(stmt, now=now, done=1)
        task_log(task_id, task.executor_id).info("PROCESSING → FINISHED ({} bytes)", size)
        return task

    async def mark_failed(
        self,
        *,
        task_id: str,
        lease_token: str,
        error: str,
        retryable: bool,
        executor_fault: bool = False,
    ) -> TaskRow:
        now = self.clock()
        if executor_fault:
            stmt = self._executor_fault_statement(task_id, lease_token, error, now)
        else:
            stmt = self._task_failure_statement(task_id, lease_token, error, retryable, now)
        task = await self._end_lease(
            stmt, now=now, failed=1, fault=error if executor_fault else None
        )
        what = "executor fault" if executor_fault else "failed"
        task_log(task_id, task.executor_id).warning(
            "PROCESSING → {} ({}): {}", task.status, what, error
        )
        return task

    def _task_failure_statement(
        self, task_id: str, lease_token: str, error: str, retryable: bool, now: datetime
    ) -> Any:
        cancelled = TASKS.c.cancel_requested.is_(True)  # a cancel asked before wins
        retry = (TASKS.c.attempts < TASKS.c.max_attempts) if retryable else false()
        spent = f"{error} (no attempts left)" if retryable else error
        return (
            update(TASKS)
            .where(*_held(task_id, lease_token))
            .values(
                status=case(
                    (cancelled, TaskStatus.CANCELLED.value),
                    (retry, QUEUED),
                    else_=TaskStatus.ERROR.value,
                ),
                error=case((cancelled | retry, error), else_=spent),
                lease_token=None,
                lease_expires_at=None,
                finished_at=case((retry & ~cancelled, None), else_=now),
                updated_at=now,
            )
        )

    def _executor_fault_statement(
        self, task_id: str, lease_token: str, error: str, now: datetime
    ) -> Any:
        """Back to the queue, the attempt not counted; the reasons kept, one line each, so a
        task no executor could run ends in ERROR saying why."""
        cancelled = TASKS.c.cancel_requested.is_(True)
        limit = self.faults.task_limit
        spent = TASKS.c.executor_faults + 1 >= limit
        reason = func.coalesce(TASKS.c.executor_id, "an executor") + f": {error}"
        reasons = func.coalesce(TASKS.c.error + "\n", "") + reason
        return (
            update(TASKS)
            .where(*_held(task_id, lease_token))
            .values(
                status=case(
                    (cancelled, TaskStatus.CANCELLED.value),
                    (spent, TaskStatus.ERROR.value),
                    else_=QUEUED,
                ),
                attempts=case((spent | cancelled, TASKS.c.attempts), else_=TASKS.c.attempts - 1),
                executor_faults=TASKS.c.executor_faults + 1,
                error=case(
                    (
                        spent & ~cancelled,
                        f"no executor could run it ({limit} executor faults):\n" + reasons,
                    ),
                    else_=reasons,
                ),
                lease_token=None,
                lease_expires_at=None,
                finished_at=case((spent | cancelled, now), else_=None),
                updated_at=now,
            )
        )

    async def cooldown_left(self, *, executor_id: str) -> float:
        stmt = select(EXECUTORS.c.cooldown_until).where(EXECUTORS.c.id == executor_id)
        async with self.db.transaction() as conn:
            until = (await conn.execute(stmt)).scalar()
        if until is None:
            return 0.0
        return max(0.0, (aware(until) - self.clock()).total_seconds())

    async def _end_lease(
        self,
        stmt: Any,
        *,
        now: datetime,
        done: int = 0,
        failed: int = 0,
        fault: str | None = None,
    ) -> TaskRow:
        """Runs a fenced UPDATE that ends the lease; LeaseLost when the lease was not held."""
        async with self.db.transaction() as conn:
            task = await _returning_one(conn, stmt)
            if task is None:
                raise LeaseLost()
            await _touch_executor(
                conn, task.executor_id, now=now, current_task_id=None, done=done, failed=failed
            )
            if fault is not None and task.executor_id is not None:
                await self._cool_down(conn, task.executor_id, now=now, fault=fault)
        return task

    async def _cool_down(
        self, conn: AsyncConnection, executor_id: str, *, now: datetime, fault: str
    ) -> None:
        faults = (
            await conn.execute(
                update(EXECUTORS)
                .where(EXECUTORS.c.id == executor_id)
                .values(faults=EXECUTORS.c.faults + 1, last_fault=fault)
                .returning(EXECUTORS.c.faults)
            )
        ).scalar_one()
        seconds = self.faults.cooldown(faults)
        await conn.execute(
            update(EXECUTORS)
            .where(EXECUTORS.c.id == executor_id)
            .values(cooldown_until=now + timedelta(seconds=seconds))
        )
        logger.bind(executor_id=executor_id).warning(
            "{} cools down for {:.0f} s ({} executor fault(s) in a row): {}",
            executor_id,
            seconds,
            faults,
            fault,
        )

    async def requeue_expired(self) -> list[TaskRow]:
        now = self.clock()
        expired = (TASKS.c.status == PROCESSING, TASKS.c.lease_expires_at < now)
        return await self._take_back(
            expired,
            now=now,
            why="the executor stopped reporting (lease expired)",
            log="lease of {} expired → {} (attempt {}/{})",
            keep=True,
        )

    async def requeue_stalled(self, *, stalled_s: float) -> list[TaskRow]:
        now = self.clock()
        stalled = (
            TASKS.c.status == PROCESSING,
            TASKS.c.progress_at < now - timedelta(seconds=stalled_s),
        )
        return await self._take_back(
            stalled,
            now=now,
            why=f"its progress did not move for {stalled_s:g} s",
            log="task of {} made no progress → {} (attempt {}/{})",
        )

    async def _take_back(
        self, where: tuple[Any, ...], *, now: datetime, why: str, log: str, keep: bool = False
    ) -> list[TaskRow]:
        """Running tasks matching `where` back to QUEUED, or ERROR past max attempts (saying
        `why`), or CANCELLED; one UPDATE, so several replicas may sweep at once. A task
        requeued keeps `why` as its error unless `keep` (its last error stays)."""
        note = false() if keep else true()
        out_of_attempts = TASKS.c.attempts >= TASKS.c.max_attempts
        stmt = (
            update(TASKS)
            .where(*where)
            .values(
                status=case(
                    (TASKS.c.cancel_requested.is_(True), TaskStatus.CANCELLED.value),
                    (out_of_attempts, TaskStatus.ERROR.value),
                    else_=QUEUED,
                ),
                error=case(
                    (
                        TASKS.c.cancel_requested.is_(False) & out_of_attempts,
                        f"{why} on each of " + cast(TASKS.c.attempts, String) + " attempts",
                    ),
                    (TASKS.c.cancel_requested.is_(False) & note, why),
                    else_=TASKS.c.error,
                ),
                lease_token=None,
                lease_expires_at=None,
                finished_at=case(
                    (out_of_attempts | TASKS.c.cancel_requested.is_(True), now), else_=None
                ),
                updated_at=now,
            )
        )
        async with self.db.transaction() as conn:
            tasks = [task_from_row(row) for row in await conn.execute(stmt.returning(*TASKS.c))]
            for task in tasks:
                # the executor that lost the lease is no longer working on it
                await conn.execute(
                    update(EXECUTORS)
                    .where(
                        EXECUTORS.c.id == task.executor_id,
                        EXECUTORS.c.current_task_id == task.id,
                    )
                    .values(current_task_id=None)
                )
        for task in tasks:
            task_log(task.id, task.executor_id).warning(
                log, task.executor_id, task.status, task.attempts, task.max_attempts
            )
        return tasks

    async def grant_restart_grace(self, *, lease_s: float) -> int:
        until = self.clock() + timedelta(seconds=lease_s)
        stmt = (
            update(TASKS)
            .where(TASKS.c.status == PROCESSING, TASKS.c.lease_expires_at < until)
            # the time down is no one's stall either
            .values(lease_expires_at=until, progress_at=self.clock())
        )
        async with self.db.transaction() as conn:
            result = await conn.execute(stmt)
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            logger.info("start-up: {} running lease(s) extended by {:.0f} s", count, lease_s)
        return count

    # ------------------------------------------------------------ client side

    async def request_cancel(self, *, task_id: str) -> TaskRow:
        now = self.clock()
        async with self.db.transaction() as conn:
            task = await _returning_one(
                conn,
                update(TASKS)
                .where(TASKS.c.id == task_id, TASKS.c.status == QUEUED)
                .values(status=TaskStatus.CANCELLED.value, finished_at=now, updated_at=now),
            )
            if task is not None:
                task_log(task_id).info("QUEUED → CANCELLED")
                return task
            task = await _returning_one(
                conn,
                update(TASKS)
                .where(TASKS.c.id == task_id, TASKS.c.status == PROCESSING)
                .values(cancel_requested=True, updated_at=now),
            )
            if task is not None:
                task_log(task_id, task.executor_id).info("cancel requested while PROCESSING")
                return task
            current = await _get(conn, task_id)
        if current is None:
            raise TaskNotFound()
        raise InvalidTransition(f"task is {current.status}: it cannot be cancelled")

    async def delete_task(self, *, task_id: str) -> None:
        """Remove the row of a task that is not being worked on (QUEUED tasks count as idle)."""
        idle = [QUEUED, *ENDED]
        async with self.db.transaction() as conn:
            result = await conn.execute(
                delete(TASKS)
                .where(TASKS.c.id == task_id, TASKS.c.status.in_(idle))
                .returning(TASKS.c.id)
            )
            if result.first() is not None:
                task_log(task_id).info("task deleted")
                return
            current = await _get(conn, task_id)
        if current is None:
            raise TaskNotFound()
        raise InvalidTransition(f"task is {current.status}: cancel it before deleting it")

    async def mark_files_purged(self, *, ended_before: datetime) -> list[TaskRow]:
        stmt = (
            update(TASKS)
            .where(
                TASKS.c.status.in_(ENDED),
                TASKS.c.files_purged.is_(False),
                TASKS.c.updated_at < ended_before,
            )
            .values(files_purged=True)
        )
        async with self.db.transaction() as conn:
            return [task_from_row(row) for row in await conn.execute(stmt.returning(*TASKS.c))]


async def _returning_one(conn: AsyncConnection, stmt: Any) -> TaskRow | None:
    row = (await conn.execute(stmt.returning(*TASKS.c))).first()
    return task_from_row(row) if row is not None else None


async def _get(conn: AsyncConnection, task_id: str) -> TaskRow | None:
    row = (await conn.execute(select(TASKS).where(TASKS.c.id == task_id))).first()
    return task_from_row(row) if row is not None else None


def _held(task_id: str, lease_token: str) -> tuple[Any, ...]:
    """The fencing condition of every executor write: this task, running, under this lease."""
    return (
        TASKS.c.id == task_id,
        TASKS.c.status == PROCESSING,
        TASKS.c.lease_token == lease_token,
    )


async def _touch_executor(
    conn: AsyncConnection,
    executor_id: str | None,
    *,
    now: datetime,
    current_task_id: str | None,
    capabilities: dict[str, Any] | None = None,
    done: int = 0,
    failed: int = 0,
) -> None:
    if executor_id is None:
        return
    values: dict[str, Any] = {"last_seen": now, "current_task_id": current_task_id}
    if capabilities:
        values["capabilities"] = capabilities
    if done or failed:
        values["done"] = EXECUTORS.c.done + done
        values["failed"] = EXECUTORS.c.failed + failed
    if done:  # it works again
        values["faults"] = 0
        values["cooldown_until"] = None
    result = await conn.execute(
        update(EXECUTORS).where(EXECUTORS.c.id == executor_id).values(**values)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(
        dialect_insert(EXECUTORS)
        .values(
            id=executor_id,
            last_seen=now,
            current_task_id=current_task_id,
            capabilities=capabilities or {},
            done=done,
            failed=failed,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
