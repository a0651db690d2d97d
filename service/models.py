"""Database tables. Every time is timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, String, Table, Text
from sqlmodel import Field, SQLModel

from service.clock import utcnow
from shared.contract import TaskStatus


class TaskFields(SQLModel):
    """The task's columns, declared once: the table below and the rows the code reads."""

    id: str = Field(primary_key=True, max_length=32)
    # a plain VARCHAR, not a database enum: the raw statements compare it with the values
    status: TaskStatus = Field(default=TaskStatus.UPLOADING, sa_type=String(16))
    owner: str = Field(max_length=128)
    progress: float = 0.0
    stage: str | None = None
    message: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    max_attempts: int = 3
    lease_token: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = None
    executor_id: str | None = Field(default=None, max_length=128)
    cancel_requested: bool = False
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    input_filename: str | None = None
    input_path: str | None = None
    # bytes: BIGINT, since uploads may exceed 2 GiB (SORAWM_MAX_UPLOAD_BYTES)
    input_size: int | None = Field(default=None, sa_type=BigInteger)
    input_sha256: str | None = Field(default=None, max_length=64)
    input_meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    result_path: str | None = None
    result_size: int | None = Field(default=None, sa_type=BigInteger)
    result_sha256: str | None = Field(default=None, max_length=64)
    files_purged: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # handed back by executors that could not work (not counted in `attempts`)
    executor_faults: int = 0
    # when `progress` last moved (set at claim): a task stalled past the limit is taken back
    progress_at: datetime | None = None
    # the client's `Idempotency-Key` on its submit: a retry with the same key gets this task
    idempotency_key: str | None = Field(default=None, max_length=128)


class Task(TaskFields, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_created", "status", "created_at"),
        Index("ix_tasks_owner_created", "owner", "created_at"),
        Index("ix_tasks_status_lease", "status", "lease_expires_at"),
        # NULLs never collide: only keyed submits are unique, and per owner
        Index("ux_tasks_owner_idempotency", "owner", "idempotency_key", unique=True),
    )


class TaskRow(TaskFields):
    """A row of `tasks` as the code reads it: validated (`status` a `TaskStatus`), and not the
    table class, whose SQLAlchemy instrumentation costs ~8x as much per row on the hot paths."""


def new_task(
    *, id: str, owner: str, max_attempts: int, now: datetime, idempotency_key: str | None = None
) -> TaskRow:
    """A task as it is first inserted: the columns' defaults."""
    return TaskRow(
        id=id,
        owner=owner,
        max_attempts=max_attempts,
        created_at=now,
        updated_at=now,
        idempotency_key=idempotency_key,
    )


def task_from_row(row: Any) -> TaskRow:
    """From a SQLAlchemy row (or any mapping of the columns, e.g. an asyncpg record)."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return TaskRow.model_validate(dict(mapping))


class Executor(SQLModel, table=True):
    __tablename__ = "executors"

    id: str = Field(primary_key=True, max_length=128)
    capabilities: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    last_seen: datetime = Field(default_factory=utcnow)
    current_task_id: str | None = Field(default=None, max_length=32)
    done: int = 0
    failed: int = 0
    faults: int = 0  # executor faults in a row
    cooldown_until: datetime | None = None
    last_fault: str | None = Field(default=None, sa_column=Column(Text))


class LogRecord(SQLModel, table=True):
    __tablename__ = "log_records"
    __table_args__ = (
        Index("ix_logs_executor_id", "executor_id", "id"),
        Index("ix_logs_task_id", "task_id", "id"),
        Index("ix_logs_levelno_id", "levelno", "id"),
        Index("ix_logs_ts", "ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(default_factory=utcnow)
    level: str = Field(max_length=16)
    levelno: int
    # "service" (its own records), "executor" (batched), "wefastapi" (one-line form)
    source: str = Field(default="executor", max_length=16)
    executor_id: str | None = Field(default=None, max_length=128)
    task_id: str | None = Field(default=None, max_length=64)
    client: str | None = Field(default=None, max_length=64)
    message: str = Field(sa_column=Column(Text, nullable=False))


# the tables, for Core statements: the task table's hot paths skip the ORM unit of work
TASKS: Table = Task.__table__  # type: ignore[attr-defined]
EXECUTORS: Table = Executor.__table__  # type: ignore[attr-defined]
LOGS: Table = LogRecord.__table__  # type: ignore[attr-defined]
