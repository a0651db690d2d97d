"""Choosing the state machine's backend, once, when the app starts."""

from __future__ import annotations

from service.clock import Clock, utcnow
from service.runtime.db import Database
from service.tasks.machine import FaultPolicy, TaskMachine
from service.tasks.postgres import PostgresTaskMachine
from service.tasks.sql import SqlTaskMachine


def open_machine(
    db: Database, *, clock: Clock = utcnow, faults: FaultPolicy | None = None
) -> TaskMachine:
    """The backend for this database. On PostgreSQL the raw pool must be open already."""
    if db.is_postgres:
        return PostgresTaskMachine(db, clock=clock, faults=faults)
    return SqlTaskMachine(db, clock=clock, faults=faults)
