"""The task state machine: every write to the task table, one method per transition.

Each transition is a single conditional UPDATE whose WHERE names the from-state (and, for
executor writes, the lease token): when no row matches, nothing changed and the caller gets
`LeaseLost` / `InvalidTransition` (→ 409). That compare-and-set is what makes a task finish
exactly once, on PostgreSQL and on SQLite alike.

    UPLOADING  → QUEUED       mark_queued          (input stored and checked)
    UPLOADING  → (deleted)    discard_upload, abandon_stale_uploads (upload failed or cut off)
    QUEUED     → PROCESSING   claim_next           (attempts+1, new lease)
    PROCESSING → PROCESSING   renew_lease          (heartbeat)
    PROCESSING → CANCELLED    renew_lease          (heartbeat after a cancel request)
    PROCESSING → FINISHED     mark_finished
    UPLOADING  → UPLOADING    touch_upload         (bytes still arriving)
    PROCESSING → QUEUED       hand_back            (the executor never got it: no attempt used)
    PROCESSING → QUEUED|ERROR mark_failed          (retryable while attempts remain;
                 |CANCELLED                         a cancel asked before wins)
    PROCESSING → QUEUED|ERROR|CANCELLED requeue_expired (lease ran out)
    PROCESSING → QUEUED|ERROR|CANCELLED requeue_stalled (beats, but no progress)
    QUEUED     → CANCELLED    request_cancel       (PROCESSING: flag only)
    QUEUED|ended → (deleted)  delete_task

One interface, one backend per database, chosen once at start-up (`backends.open_machine`):
`SqlTaskMachine` (SQLAlchemy Core; SQLite) and `PostgresTaskMachine` (the executor's hot
paths as one hand-written asyncpg statement each). `tests/service/test_task_machine.py` runs the
same specifications against both, on an injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from service.clock import Clock
from service.errors import LeaseLost
from service.models import TaskRow
from shared.contract import TaskStatus


def ensure_leased(task: TaskRow, lease_token: str | None) -> TaskRow:
    """The task, if `lease_token` is its current lease; else LeaseLost (→ 409)."""
    if task.status != TaskStatus.PROCESSING or not lease_token or task.lease_token != lease_token:
        raise LeaseLost()
    return task


@dataclass(frozen=True)
class FaultPolicy:
    """What an executor fault ("this executor cannot", not "this task is bad") costs: the
    executor cools down, longer with each fault in a row; a task handed back by `task_limit`
    executor faults ends in ERROR, since then it is more likely the task."""

    cooldown_s: float = 30.0
    max_cooldown_s: float = 900.0
    task_limit: int = 5

    def cooldown(self, faults_in_a_row: int) -> float:
        return min(self.cooldown_s * 2 ** max(0, faults_in_a_row - 1), self.max_cooldown_s)


@dataclass(frozen=True)
class Renewal:
    lease_expires_at: datetime
    cancel: bool


class TaskMachine(Protocol):
    """The transitions of a task, and the one read the executor's paths need."""

    clock: Clock

    async def find_task(self, task_id: str) -> TaskRow | None: ...

    async def get_task(self, task_id: str, *, owner: str | None = None) -> TaskRow:
        """The task; `owner` set hides other owners' tasks as if they did not exist."""
        ...

    async def leased_task(self, *, task_id: str, lease_token: str | None) -> TaskRow:
        """The task, if `lease_token` is its current lease; else LeaseLost (or TaskNotFound)."""
        ...

    async def create_uploading(
        self, *, owner: str, max_attempts: int, idempotency_key: str | None = None
    ) -> TaskRow:
        """A new UPLOADING task; `SubmitInProgress` when `owner` already has a task with this
        `idempotency_key` (two submits with one key racing)."""
        ...

    async def find_by_idempotency_key(self, *, owner: str, key: str) -> TaskRow | None: ...

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
    ) -> TaskRow: ...

    async def discard_upload(self, *, task_id: str) -> None: ...

    async def touch_upload(self, *, task_id: str) -> bool:
        """An upload still receiving bytes is not stale; False when it is gone (reaped)."""
        ...

    async def abandon_stale_uploads(self, *, older_than: datetime) -> list[str]: ...

    async def claim_next(
        self,
        *,
        executor_id: str,
        capabilities: dict[str, Any],
        lease_s: float,
        inpainters: list[str] | None = None,
    ) -> TaskRow | None:
        """The oldest QUEUED task this executor can run becomes its own, with a fresh lease;
        None when none. A task asking for an inpainter outside `inpainters` (default: the ones
        every executor runs) waits for another executor, its attempts untouched."""
        ...

    async def seen_idle(self, *, executor_id: str, capabilities: dict[str, Any]) -> None:
        """An executor that polled and got nothing is still alive."""
        ...

    async def renew_lease(
        self,
        *,
        task_id: str,
        lease_token: str,
        lease_s: float,
        progress: float | None,
        stage: str | None,
        message: str | None,
    ) -> Renewal: ...

    async def hand_back(self, *, task_id: str, lease_token: str) -> TaskRow:
        """The claim never reached its executor (it hung up): the task goes back to the
        queue as if never claimed, its attempt not counted."""
        ...

    async def mark_finished(
        self, *, task_id: str, lease_token: str, key: str, size: int, sha256: str
    ) -> TaskRow: ...

    async def mark_failed(
        self,
        *,
        task_id: str,
        lease_token: str,
        error: str,
        retryable: bool,
        executor_fault: bool = False,
    ) -> TaskRow:
        """A failure of the task (retryable: back to the queue while attempts remain), or
        with `executor_fault` of the executor: back to the queue without using an attempt,
        the executor cooling down (see `FaultPolicy`). A cancel asked before wins."""
        ...

    async def cooldown_left(self, *, executor_id: str) -> float:
        """Seconds before this executor may be given a task again (0: it may now)."""
        ...

    async def requeue_stalled(self, *, stalled_s: float) -> list[TaskRow]:
        """Running tasks whose progress has not moved for `stalled_s` though their executor
        beats (a hung engine): taken back like an expired lease; the executor learns it at its
        next heartbeat (409) and stops."""
        ...

    async def requeue_expired(self) -> list[TaskRow]:
        """Leases past their expiry: back to QUEUED, or ERROR past max attempts, or
        CANCELLED. One UPDATE, so several replicas may sweep at once."""
        ...

    async def grant_restart_grace(self, *, lease_s: float) -> int:
        """At start-up: every running lease gets one full lease period from now."""
        ...

    async def request_cancel(self, *, task_id: str) -> TaskRow: ...

    async def delete_task(self, *, task_id: str) -> None: ...

    async def mark_files_purged(self, *, ended_before: datetime) -> list[TaskRow]:
        """Retention: ended tasks whose files are due for removal (the rows stay)."""
        ...
