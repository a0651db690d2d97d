"""`create_app`: the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from loguru import logger

from service.api import admin, compat, docs_pages, executor, health, logs, pages, tasks
from service.api.answers import install_allow_header
from service.api.origin_guard import OriginGuard
from service.errors import install_error_handler
from service.files.store import LocalFileStore
from service.logs.queries import LogFilter, last_log_id, logs_after
from service.logs.sink import DatabaseLogSink
from service.maintenance import run_maintenance
from service.runtime.db import Database
from service.runtime.metrics import Metrics
from service.runtime.migrate import migrate
from service.runtime.settings import ServiceSettings
from service.runtime.streams import ChangeFeed, StreamGate
from service.runtime.wakeup import PgQueueChannel, QueueSignal
from service.state import AppState
from service.tasks.backends import open_machine
from service.tasks.machine import FaultPolicy
from service.tasks.queries import updated_at_of


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        await migrate(db)
        await db.open_pool()
        machine = open_machine(
            db,
            faults=FaultPolicy(
                cooldown_s=settings.executor_cooldown_s,
                max_cooldown_s=settings.executor_cooldown_max_s,
                task_limit=settings.executor_fault_limit,
            ),
        )
        await machine.grant_restart_grace(lease_s=settings.lease_seconds)
        # replicas on one PostgreSQL wake each other's waiting claims
        channel = PgQueueChannel(db) if db.is_postgres else None
        metrics = Metrics()
        changes = ChangeFeed(
            lambda ids: updated_at_of(db, ids),
            lambda: last_log_id(db),
            lambda after, limit: logs_after(db, LogFilter(), after_id=after, limit=limit),
            tick_s=settings.stream_tick_s,
            on_read=metrics.stream_reads.inc,
        )
        state = AppState(
            settings=settings,
            db=db,
            tasks=machine,
            store=LocalFileStore(settings.data_dir),
            signal=QueueSignal(broadcast=channel.publish if channel else None, also=changes.poke),
            metrics=metrics,
            streams=StreamGate(
                max_total=settings.max_streams, max_per_caller=settings.max_streams_per_caller
            ),
            changes=changes,
        )
        app.state.sorawm = state
        log_sink = DatabaseLogSink(db, level=settings.log_level)
        log_sink.install()
        background = [
            asyncio.create_task(run_maintenance(state), name="maintenance"),
            asyncio.create_task(log_sink.run(), name="log-sink"),
            asyncio.create_task(changes.run(), name="live-streams"),
        ]
        if channel is not None:
            background.append(
                asyncio.create_task(channel.listen(state.signal.notify), name="replica-wakeups")
            )
        logger.info("service ready: database {}, files in {}", db.dialect, settings.data_dir)
        try:
            yield
        finally:
            log_sink.remove()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await db.close()

    app = FastAPI(
        title="SoraWM fleet",
        version="1",
        summary="Removes the moving Sora watermark from videos with a fleet of executors.",
        lifespan=lifespan,
        # served by service.api.docs_pages, with a CSP
        docs_url=None,
        redoc_url=None,
    )
    install_error_handler(app)
    install_allow_header(app)
    app.add_middleware(OriginGuard, settings=settings)
    # the claim route must be matched before the `/api/tasks/{task_id}` routes
    app.mount(pages.STATIC_PATH, pages.static_files(), name="static")
    for router in (
        executor.router,
        tasks.router,
        logs.router,
        admin.router,
        health.router,
        compat.router,
        pages.router,
        docs_pages.router,
    ):
        app.include_router(router)
    return app
