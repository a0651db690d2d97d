"""The state machine on PostgreSQL: the executor's hot transitions (claim, heartbeat, result,
the task read) as one hand-written statement each over the raw asyncpg pool (`Database.pool`),
with the executor's bookkeeping folded into the same statement; the cold ones keep the
portable statements of `SqlTaskMachine`.

Each statement does exactly what its twin in `service.tasks.sql` does — the same from-state
and lease token in the `WHERE`, so a stale lease matches no row (→ 409) and a task is finished
exactly once — but in one round trip and one commit, and the claim skips rows another replica
holds (`FOR UPDATE SKIP LOCKED`). The executor row is upserted by a data-modifying CTE
(`INSERT … ON CONFLICT DO UPDATE`), which leaves it as the UPDATE-then-INSERT of
`sql._touch_executor` would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from service.clock import Clock, utcnow
from service.errors import LeaseLost
from service.models import TaskRow, task_from_row
from service.runtime.db import Database
from service.tasks.machine import FaultPolicy, Renewal
from service.tasks.sql import (
    SqlTaskMachine,
    log_cancelled_on_beat,
    log_claimed,
    new_lease_token,
    task_log,
)
from shared.contract import BASE_INPAINTERS, TaskStatus

QUEUED = TaskStatus.QUEUED.value
PROCESSING = TaskStatus.PROCESSING.value


def _upsert_executor(source: str, *, store_capabilities: str = "false") -> str:
    """`executors` upsert fed by the row of `source` (a CTE with columns executor_id, seen,
    current_task_id, capabilities, done, failed; no row: nothing happens). Capabilities are
    replaced only when `store_capabilities` (an SQL boolean) holds; done/failed add up."""
    return f"""
    INSERT INTO executors AS e (id, last_seen, current_task_id, capabilities, done, failed)
    SELECT executor_id, seen, current_task_id, capabilities, done, failed
    FROM {source} WHERE executor_id IS NOT NULL
    ON CONFLICT (id) DO UPDATE SET
        last_seen = excluded.last_seen,
        current_task_id = excluded.current_task_id,
        capabilities = CASE WHEN {store_capabilities}
                            THEN excluded.capabilities ELSE e.capabilities END,
        done = e.done + excluded.done,
        failed = e.failed + excluded.failed,
        -- a finished task: it works again
        faults = CASE WHEN excluded.done > 0 THEN 0 ELSE e.faults END,
        cooldown_until = CASE WHEN excluded.done > 0 THEN NULL ELSE e.cooldown_until END
    """


# QUEUED → PROCESSING: the oldest queued row nobody else holds that asks for no inpainter or
# one this executor runs ($1 executor, $2 token, $3 lease expiry, $4 now, $5 capabilities,
# $6 whether to store them, $7 the inpainters it runs)
CLAIM = f"""
WITH claimed AS (
    UPDATE tasks SET
        status = '{PROCESSING}', attempts = attempts + 1, lease_token = $2,
        lease_expires_at = $3, executor_id = $1, progress = 0, stage = 'claimed',
        message = NULL, started_at = $4, progress_at = $4, updated_at = $4
    WHERE id = (
        SELECT id FROM tasks WHERE status = '{QUEUED}'
          AND (options->>'inpainter' IS NULL OR options->>'inpainter' = ANY($7::varchar[]))
          AND NOT EXISTS (  -- an executor cooling down after a fault of its own gets nothing
              SELECT 1 FROM executors WHERE id = $1 AND cooldown_until > $4)
        ORDER BY created_at, id LIMIT 1
        FOR UPDATE SKIP LOCKED  -- several replicas and executors claim at once
    ) AND status = '{QUEUED}'
    RETURNING *
), seen AS (
    SELECT $1::varchar AS executor_id, $4::timestamptz AS seen,
           (SELECT id FROM claimed) AS current_task_id, $5::json AS capabilities,
           0 AS done, 0 AS failed
), touched AS ({_upsert_executor("seen", store_capabilities="$6::boolean")})
SELECT * FROM claimed
"""

# an executor that polled and found nothing ($1 executor, $2 now, $3 capabilities, $4 store)
SEEN_IDLE = f"""
WITH seen AS (
    SELECT $1::varchar AS executor_id, $2::timestamptz AS seen,
           NULL::varchar AS current_task_id, $3::json AS capabilities, 0 AS done, 0 AS failed
)
{_upsert_executor("seen", store_capabilities="$4::boolean")}
"""

# PROCESSING → PROCESSING (lease extended, progress stored), or PROCESSING → CANCELLED when a
# cancel was asked: this beat tells the executor. ($1 task, $2 token, $3 new expiry,
# $4 progress, $5 stage, $6 message — NULL keeps the stored one — $7 now)
RENEW = f"""
WITH beat AS (
    UPDATE tasks SET
        status = CASE WHEN cancel_requested THEN '{TaskStatus.CANCELLED.value}' ELSE status END,
        lease_expires_at = CASE WHEN cancel_requested THEN NULL ELSE $3::timestamptz END,
        progress = CASE WHEN cancel_requested THEN progress ELSE coalesce($4::float8, progress) END,
        -- any of progress, stage, message changing is evidence that the work goes on
        progress_at = CASE WHEN ($4::float8 IS NOT NULL AND $4::float8 IS DISTINCT FROM progress)
                             OR ($5::varchar IS NOT NULL AND $5::varchar IS DISTINCT FROM stage)
                             OR ($6::text IS NOT NULL AND $6::text IS DISTINCT FROM message)
                           THEN $7::timestamptz ELSE progress_at END,
        stage = CASE WHEN cancel_requested THEN 'cancelled' ELSE coalesce($5::varchar, stage) END,
        message = CASE WHEN cancel_requested THEN message ELSE coalesce($6::text, message) END,
        finished_at = CASE WHEN cancel_requested THEN $7::timestamptz ELSE finished_at END,
        updated_at = $7::timestamptz
    WHERE id = $1 AND status = '{PROCESSING}' AND lease_token = $2
    RETURNING id, executor_id, cancel_requested
), seen AS (
    SELECT executor_id, $7::timestamptz AS seen,
           CASE WHEN cancel_requested THEN NULL ELSE id END AS current_task_id,
           '{{}}'::json AS capabilities, 0 AS done, 0 AS failed
    FROM beat
), touched AS ({_upsert_executor("seen")})
SELECT executor_id, cancel_requested FROM beat
"""

# PROCESSING → FINISHED under this lease ($1 task, $2 token, $3 key, $4 size, $5 sha256, $6 now)
FINISH = f"""
WITH done AS (
    UPDATE tasks SET
        status = '{TaskStatus.FINISHED.value}', progress = 100, stage = 'finished',
        result_path = $3, result_size = $4, result_sha256 = $5,
        lease_expires_at = NULL, finished_at = $6, updated_at = $6
    WHERE id = $1 AND status = '{PROCESSING}' AND lease_token = $2
    RETURNING *
), seen AS (
    SELECT executor_id, $6::timestamptz AS seen, NULL::varchar AS current_task_id,
           '{{}}'::json AS capabilities, 1 AS done, 0 AS failed
    FROM done
), touched AS ({_upsert_executor("seen")})
SELECT * FROM done
"""

GET = "SELECT * FROM tasks WHERE id = $1"


class PostgresTaskMachine(SqlTaskMachine):
    """`SqlTaskMachine` with the executor's hot paths on the raw pool."""

    def __init__(
        self, db: Database, *, clock: Clock = utcnow, faults: FaultPolicy | None = None
    ) -> None:
        if db.pool is None:
            raise RuntimeError("the PostgreSQL backend needs the raw pool: Database.open_pool()")
        super().__init__(db, clock=clock, faults=faults)
        self.pool: asyncpg.Pool = db.pool

    async def find_task(self, task_id: str) -> TaskRow | None:
        row = await self.pool.fetchrow(GET, task_id)
        return task_from_row(row) if row is not None else None

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
        row = await self.pool.fetchrow(
            CLAIM,
            executor_id,
            new_lease_token(),
            now + timedelta(seconds=lease_s),
            now,
            capabilities,
            bool(capabilities),
            runs,
        )
        if row is None:
            return None
        task = task_from_row(row)
        log_claimed(task, executor_id)
        return task

    async def seen_idle(self, *, executor_id: str, capabilities: dict[str, Any]) -> None:
        await self.pool.execute(
            SEEN_IDLE, executor_id, self.clock(), capabilities, bool(capabilities)
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
        lease_expires_at = now + timedelta(seconds=lease_s)
        row = await self.pool.fetchrow(
            RENEW, task_id, lease_token, lease_expires_at, progress, stage, message, now
        )
        if row is None:
            raise LeaseLost()
        if not row["cancel_requested"]:
            return Renewal(lease_expires_at=lease_expires_at, cancel=False)
        log_cancelled_on_beat(task_id, row["executor_id"])
        return Renewal(lease_expires_at=now, cancel=True)

    async def mark_finished(
        self, *, task_id: str, lease_token: str, key: str, size: int, sha256: str
    ) -> TaskRow:
        row = await self.pool.fetchrow(
            FINISH, task_id, lease_token, key, size, sha256, self.clock()
        )
        if row is None:
            raise LeaseLost()
        task = task_from_row(row)
        task_log(task_id, task.executor_id).info("PROCESSING → FINISHED ({} bytes)", size)
        return task
