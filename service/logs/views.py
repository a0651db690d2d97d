"""Log rows → the contract's public model."""

from __future__ import annotations

from service.clock import aware
from service.models import LogRecord
from shared.contract import LogLevel, LogRecordPublic


def log_public(record: LogRecord) -> LogRecordPublic:
    assert record.id is not None
    return LogRecordPublic(
        id=record.id,
        ts=aware(record.ts),
        level=LogLevel(record.level),
        executor_id=record.executor_id,
        task_id=record.task_id,
        client=record.client,
        source=record.source,
        message=record.message,
    )
