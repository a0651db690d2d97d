"""The HTTP contract between clients, the service and executors.

Both `service/` and `executor/` import this module and nothing of each other:
route paths, header names, the status enum and the JSON bodies live here once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "v1"


class TaskStatus(StrEnum):
    """The life cycle of a task: UPLOADING → QUEUED → PROCESSING → FINISHED | ERROR | CANCELLED."""

    UPLOADING = "UPLOADING"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    FINISHED = "FINISHED"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"

    @property
    def ended(self) -> bool:
        return self in ENDED_STATUSES


ENDED_STATUSES = frozenset({TaskStatus.FINISHED, TaskStatus.ERROR, TaskStatus.CANCELLED})


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def number(self) -> int:
        return LOG_LEVEL_NUMBERS[self]

    @classmethod
    def parse(cls, value: str) -> LogLevel:
        """Accept any case and loguru's extra names (SUCCESS, TRACE, WARN)."""
        name = value.strip().upper()
        return cls(_LEVEL_ALIASES.get(name, name))


LOG_LEVEL_NUMBERS = {
    LogLevel.DEBUG: 10,
    LogLevel.INFO: 20,
    LogLevel.WARNING: 30,
    LogLevel.ERROR: 40,
    LogLevel.CRITICAL: 50,
}
_LEVEL_ALIASES = {"TRACE": "DEBUG", "SUCCESS": "INFO", "WARN": "WARNING", "FATAL": "CRITICAL"}


class Routes:
    """Every path of API v1, in one place."""

    TASKS = "/api/tasks"
    TASK = "/api/tasks/{task_id}"
    TASK_RESULT = "/api/tasks/{task_id}/result"
    TASK_CANCEL = "/api/tasks/{task_id}/cancel"
    TASK_EVENTS = "/api/tasks/{task_id}/events"
    # executor side
    CLAIM = "/api/tasks/claim"
    TASK_INPUT = "/api/tasks/{task_id}/input"
    HEARTBEAT = "/api/tasks/{task_id}/heartbeat"
    FAIL = "/api/tasks/{task_id}/fail"
    LOGS = "/api/logs"
    WEFASTAPI_LOG = "/api/bases/logs/"
    # admin
    ADMIN_LOGS = "/api/admin/logs"
    ADMIN_LOGS_STREAM = "/api/admin/logs/stream"
    ADMIN_PAGE = "/admin"
    HOME = "/"
    EXECUTORS = "/api/executors"
    HEALTH = "/health"
    LIVE = "/health/live"
    METRICS = "/metrics"
    # the single-box SoraWM server's API
    COMPAT_SUBMIT = "/submit_remove_task"
    COMPAT_RESULTS = "/get_results"
    COMPAT_DOWNLOAD = "/download/{task_id}"


class Headers:
    LEASE_TOKEN = "X-Lease-Token"
    CONTENT_SHA256 = "X-Content-SHA256"


MAX_CLAIM_WAIT_S = 30.0


def executor_id_for(number: int | str) -> str:
    """Executor ids are `ET-SoraWM-{id}` from `--id`."""
    return f"ET-SoraWM-{number}"


# ---------------------------------------------------------------- client side


class FileInfo(BaseModel):
    size: int
    sha256: str


class InputInfo(FileInfo):
    filename: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    has_audio: bool | None = None


class TaskPublic(BaseModel):
    """What `GET /api/tasks/{id}` answers."""

    id: str
    status: TaskStatus
    progress: float = Field(ge=0, le=100)
    stage: str | None = None
    message: str | None = None
    error: str | None = None
    attempts: int
    max_attempts: int
    executor_id: str | None = None
    cancel_requested: bool = False
    options: dict[str, Any] = Field(default_factory=dict)
    input: InputInfo | None = None
    result: FileInfo | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class TaskPage(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: `{"detail": "a sentence a person understands"}`."""

    detail: str


# ---------------------------------------------------------------- executor side


class Capabilities(BaseModel):
    model_config = ConfigDict(extra="allow")

    device: str | None = None
    gpu_name: str | None = None
    vram_mb: int | None = None
    engine_version: str | None = None


class ClaimRequest(BaseModel):
    executor_id: str = Field(min_length=1, max_length=128)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    wait_s: float = Field(default=0.0, ge=0, le=MAX_CLAIM_WAIT_S)


class ClaimedInput(BaseModel):
    url: str
    size: int
    sha256: str
    filename: str


class ClaimResponse(BaseModel):
    task_id: str
    lease_token: str
    lease_expires_at: datetime
    heartbeat_s: float
    attempt: int
    input: ClaimedInput
    options: dict[str, Any] = Field(default_factory=dict)


class HeartbeatRequest(BaseModel):
    lease_token: str = Field(min_length=1)
    progress: float | None = Field(default=None, ge=0, le=100)
    stage: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=2000)


class HeartbeatResponse(BaseModel):
    lease_expires_at: datetime
    cancel: bool


class FailRequest(BaseModel):
    lease_token: str = Field(min_length=1)
    error: str = Field(min_length=1, max_length=4000)
    retryable: bool = False


class FailResponse(BaseModel):
    status: TaskStatus
    attempts: int


class ResultAck(BaseModel):
    task_id: str
    status: TaskStatus
    result: FileInfo


class LogRecordIn(BaseModel):
    ts: datetime | None = None
    level: str = "INFO"
    message: str = Field(max_length=20000)
    task_id: str | None = Field(default=None, max_length=64)


class LogBatch(BaseModel):
    executor_id: str = Field(min_length=1, max_length=128)
    records: list[LogRecordIn] = Field(max_length=5000)


class WeFastApiLog(BaseModel):
    """WeFastAPI executors post one line at a time: `{level, message}`."""

    level: str = "info"
    message: str = Field(max_length=20000)


class LogAccepted(BaseModel):
    accepted: int


# ---------------------------------------------------------------- admin side


class LogRecordPublic(BaseModel):
    id: int
    ts: datetime
    level: LogLevel
    executor_id: str | None = None
    task_id: str | None = None
    client: str | None = None
    source: str = "executor"
    message: str


class LogPage(BaseModel):
    items: list[LogRecordPublic]
    next_cursor: str | None = None


class ExecutorPublic(BaseModel):
    id: str
    online: bool
    busy: bool
    current_task_id: str | None = None
    current_progress: float | None = None
    last_seen: datetime
    capabilities: dict[str, Any] = Field(default_factory=dict)
    done: int = 0
    failed: int = 0


class HealthReport(BaseModel):
    status: str
    database: str
    store: str


# ---------------------------------------------------------------- SoraWM compatibility


class CompatSubmitted(BaseModel):
    task_id: str
    message: str = "Task submitted."


class CompatResults(BaseModel):
    """The single-box SoraWM server's `WMRemoveResults`."""

    percentage: int
    status: TaskStatus
    download_url: str | None = None
    error_message: str | None = None
