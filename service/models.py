"""Database tables. Every time is timezone-aware UTC."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Table, Text
from sqlmodel import Field, SQLModel

from shared.contract import TaskStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_created", "status", "created_at"),
        Index("ix_tasks_owner_created", "owner", "created_at"),
        Index("ix_tasks_status_lease", "status", "lease_expires_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    status: str = Field(default=TaskStatus.UPLOADING.value, max_length=16)
    owner: str = Field(max_length=128)
    progress: float = 0.0
    stage: str | None = None
    message: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    max_attempts: int = 3
    lease_token: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = None
    executor_id: str | None = Field(default=None, max_length=128)
    cancel_requested: bool = False
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    input_filename: str | None = None
    input_path: str | None = None
    # bytes: BIGINT, since uploads may exceed 2 GiB (SORAWM_MAX_UPLOAD_BYTES)
    input_size: int | None = Field(default=None, sa_column=Column(BigInteger))
    input_sha256: str | None = Field(default=None, max_length=64)
    input_meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    result_path: str | None = None
    result_size: int | None = Field(default=None, sa_column=Column(BigInteger))
    result_sha256: str | None = Field(default=None, max_length=64)
    files_purged: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(slots=True)
class TaskRow:
    """A row of `tasks` as the code reads it: the table's columns, nothing more.

    Not the SQLModel class: building that through pydantic validation and SQLAlchemy's
    attribute instrumentation cost ~0.1 ms per row, a third of a claim cycle's budget; rows come
    typed from the database. `tests/service/test_models.py` keeps both column lists equal.
    """

    id: str
    status: str
    owner: str
    progress: float
    stage: str | None
    message: str | None
    error: str | None
    attempts: int
    max_attempts: int
    lease_token: str | None
    lease_expires_at: datetime | None
    executor_id: str | None
    cancel_requested: bool
    options: dict[str, Any]
    input_filename: str | None
    input_path: str | None
    input_size: int | None
    input_sha256: str | None
    input_meta: dict[str, Any]
    result_path: str | None
    result_size: int | None
    result_sha256: str | None
    files_purged: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


TASK_ROW_FIELDS = tuple(field.name for field in fields(TaskRow))


def new_task(*, id: str, owner: str, max_attempts: int) -> TaskRow:
    """A task as it is first inserted: the table model's defaults."""
    return TaskRow(**Task(id=id, owner=owner, max_attempts=max_attempts).model_dump())


def task_from_row(row: Any) -> TaskRow:
    """From a SQLAlchemy row (or any mapping of the columns, e.g. an asyncpg record)."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return TaskRow(*(mapping[name] for name in TASK_ROW_FIELDS))


class Executor(SQLModel, table=True):
    __tablename__ = "executors"

    id: str = Field(primary_key=True, max_length=128)
    capabilities: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    last_seen: datetime = Field(default_factory=utcnow)
    current_task_id: str | None = Field(default=None, max_length=32)
    done: int = 0
    failed: int = 0


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
