"""The background loop each replica runs: expired leases, waking claims, retention.

Every step is a conditional statement, so replicas running it side by side never conflict.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from loguru import logger

from service.logs import store as log_store
from service.state import AppState
from service.tasks import queries


async def sweep_once(state: AppState) -> None:
    expired = await state.tasks.requeue_expired()
    if state.settings.stall_timeout_s > 0:
        expired += await state.tasks.requeue_stalled(stalled_s=state.settings.stall_timeout_s)
    for task in expired:
        state.metrics.lease_expiries.inc()
        if task.finished_at is not None:
            state.metrics.task_ended(task)
    requeued = sum(1 for task in expired if task.finished_at is None)
    if requeued:
        await state.signal.queued(requeued)
    if state.signal.waiting:
        # the fallback for work queued elsewhere whose notice never came (several processes on
        # one SQLite file, a replica's lost LISTEN connection)
        queued = await queries.count_queued(state.db)
        if queued:
            await state.signal.notify(min(queued, state.signal.waiting))


async def retention_once(state: AppState) -> None:
    settings = state.settings
    now = state.tasks.clock()
    stale = now - timedelta(seconds=settings.upload_timeout_s)
    for task_id in await state.tasks.abandon_stale_uploads(older_than=stale):
        await state.store.remove_task(task_id)
    if settings.log_retention_days > 0:
        removed = await log_store.delete_before(
            state.db, now - timedelta(days=settings.log_retention_days)
        )
        if removed:
            logger.info("retention: {} log records removed", removed)
    if settings.retention_days > 0:
        cutoff = now - timedelta(days=settings.retention_days)
        for task in await state.tasks.mark_files_purged(ended_before=cutoff):
            await state.store.remove_task(task.id)
            logger.bind(task_id=task.id).info("retention: files removed")


async def run_maintenance(state: AppState) -> None:
    interval = state.settings.maintenance_interval_s
    retention_every = state.settings.retention_interval_s
    since_retention = retention_every
    while True:
        try:
            await sweep_once(state)
            if since_retention >= retention_every:
                since_retention = 0.0
                await retention_once(state)
        except Exception:  # the loop must outlive a database hiccup
            logger.exception("maintenance step failed; retrying")
        await asyncio.sleep(interval)
        since_retention += interval
