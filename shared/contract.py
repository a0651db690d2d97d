"""The HTTP contract between clients, the service and executors.

Both `service/` and `executor/` import this module and nothing of each other:
route paths, header names, the status enum and the JSON bodies live here once.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from shared.png import png_size

API_VERSION = "v1"

TASK_ID_PATTERN = r"^[0-9a-f]{32}$"
# what the service hands out; an executor never uses anything else as a folder name
TaskId = Annotated[str, Field(pattern=TASK_ID_PATTERN)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_time(value: Any) -> Any:
    # pydantic would also take a number (seconds since 1970): the schema says an ISO 8601 string
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("a time is an ISO 8601 string, e.g. 2026-01-31T12:00:00Z")


# a time in a request: what the schema says (`date-time`), not every form pydantic would take
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


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
    # on a submit: a retry with the same key (same caller) gets the first task back
    IDEMPOTENCY_KEY = "Idempotency-Key"


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


Inpainter = Literal["temporal", "telea", "lama"]
INPAINTERS: tuple[str, ...] = ("temporal", "telea", "lama")
# what every executor can run; one that does not say (an older one) runs these
BASE_INPAINTERS: tuple[str, ...] = ("temporal", "telea")

MAX_REGIONS = 256
MAX_MASKS = 32
MAX_MASK_PNG_BYTES = 4 * 1024 * 1024
# the `options` form field as sent (JSON text): room for a few masks in base64
MAX_OPTIONS_BYTES = 8 * 1024 * 1024


class TimeRange(BaseModel):
    """`start_s` (inclusive) to `end_s` (exclusive), in seconds of the video; either may be
    left out (from the start / to the end); both left out: the whole video."""

    model_config = ConfigDict(extra="forbid")

    start_s: float | None = Field(default=None, ge=0, description="from this time (inclusive)")
    end_s: float | None = Field(default=None, gt=0, description="until this time (exclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError("end_s must be greater than start_s")
        return self

    def covers(self, seconds: float) -> bool:
        return (self.start_s is None or seconds >= self.start_s) and (
            self.end_s is None or seconds < self.end_s
        )


class RegionOption(TimeRange):
    """A box to clean instead of what the detector finds, during its time range."""

    box: tuple[int, int, int, int] = Field(
        description="[x1, y1, x2, y2] in the video's pixels (x2 and y2 exclusive)",
        examples=[[1040, 610, 1240, 690]],
    )

    @model_validator(mode="after")
    def _box(self) -> RegionOption:
        x1, y1, x2, y2 = self.box
        if x1 < 0 or y1 < 0:
            raise ValueError("box: x1 and y1 must not be negative")
        if x2 <= x1:
            raise ValueError("box: x2 must be greater than x1")
        if y2 <= y1:
            raise ValueError("box: y2 must be greater than y1")
        return self


class MaskOption(TimeRange):
    """A mask image to clean instead of what the detector finds, during its time range: a PNG
    of the video's size, white (any pixel brighter than mid-grey) where to clean."""

    png_base64: str = Field(
        description=f"the PNG, base64; at most {MAX_MASK_PNG_BYTES // (1024 * 1024)} MiB decoded"
    )
    _size: tuple[int, int] = PrivateAttr(default=(0, 0))

    @model_validator(mode="after")
    def _png(self) -> MaskOption:
        if len(self.png_base64) > (MAX_MASK_PNG_BYTES + 2) // 3 * 4 + 4:
            raise ValueError(f"the PNG is larger than {MAX_MASK_PNG_BYTES} bytes")
        data = self.png()
        self._size = png_size(data)
        return self

    def png(self) -> bytes:
        """The PNG's bytes."""
        try:
            return base64.b64decode(self.png_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"png_base64 is not base64 ({exc})") from exc

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the mask."""
        return self._size


class TaskOptions(BaseModel):
    """The `options` JSON of a task (every key optional; unknown keys are refused).

    - `inpainter`: how to repaint; a task asking for one (e.g. `lama`) waits until an executor
      that can run it claims it. Left out: the executor's own default.
    - `crf`: x264 quality of the result, 0–51 (lower is better).
    - `regions` and `masks`: take over from the detector. In every frame that falls in one of
      their time ranges, exactly the union of the boxes and masks that cover it is cleaned,
      whatever the detector would have found there (another kind of watermark, a mark the
      detector misses); elsewhere the detector decides, unless `detect` is false.
    - `detect`: false cleans only the user's areas (no detection anywhere).

    Example: `{"inpainter": "telea", "regions": [{"box": [10, 10, 120, 60], "start_s": 0,
    "end_s": 2.5}], "masks": [{"png_base64": "iVBORw0…", "start_s": 3}]}`.
    """

    model_config = ConfigDict(extra="forbid")

    inpainter: Inpainter | None = Field(default=None, description="temporal, telea or lama")
    crf: int | None = Field(default=None, ge=0, le=51, description="x264 quality, 0-51")
    regions: list[RegionOption] = Field(default_factory=list, max_length=MAX_REGIONS)
    masks: list[MaskOption] = Field(default_factory=list, max_length=MAX_MASKS)
    detect: bool = Field(default=True, description="also detect the mark outside the user's areas")

    @property
    def user_areas(self) -> list[RegionOption | MaskOption]:
        return [*self.regions, *self.masks]

    def check_video(
        self, width: int | None, height: int | None, duration_s: float | None = None
    ) -> None:
        """ValueError naming the first option that does not fit a video of this size."""
        for i, region in enumerate(self.regions):
            x1, y1, x2, y2 = region.box
            if width is not None and height is not None and (x2 > width or y2 > height):
                raise ValueError(
                    f"options.regions[{i}].box {list(region.box)} lies outside the "
                    f"{width}x{height} video"
                )
        for i, mask in enumerate(self.masks):
            if width is not None and height is not None and mask.size != (width, height):
                raise ValueError(
                    f"options.masks[{i}] is {mask.size[0]}x{mask.size[1]}, "
                    f"the video is {width}x{height}"
                )
        if duration_s is not None:
            for name, areas in (("regions", self.regions), ("masks", self.masks)):
                for i, area in enumerate(areas):
                    if area.start_s is not None and area.start_s >= duration_s:
                        raise ValueError(
                            f"options.{name}[{i}] starts at {area.start_s:g} s, after the "
                            f"end of the {duration_s:.2f} s video"
                        )

    @classmethod
    def parse(cls, raw: Any) -> TaskOptions:
        """The options, or ValueError with a sentence naming each problem
        (`options.regions[0].box: x2 must be greater than x1`)."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = dict.fromkeys(_problem(error) for error in exc.errors())
            raise ValueError("; ".join(problems)) from None


def _problem(error: Any) -> str:
    where = "options"
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown option"
    elif error["type"] == "literal_error" and error["loc"][-1:] == ("inpainter",):
        message = f"unknown inpainter {error.get('input')!r}: choose one of {', '.join(INPAINTERS)}"
    if "box" in error["loc"][:-1] or (error["loc"][-1:] == ("box",) and "tuple" in error["type"]):
        where = where[: where.index(".box") + 4]
        message = "a box is 4 whole numbers [x1, y1, x2, y2]"
    if message.startswith("box: "):
        where, message = f"{where}.box", message.removeprefix("box: ")
    return f"{where}: {message}"


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


class FieldProblem(BaseModel):
    """One field of a request that does not fit its schema (FastAPI's validation error)."""

    loc: list[str | int]
    msg: str
    type: str


class ProblemBody(BaseModel):
    """A 422: a sentence, or, when the request does not fit its schema, one entry per field."""

    detail: str | list[FieldProblem]


# ---------------------------------------------------------------- executor side


class Capabilities(BaseModel):
    model_config = ConfigDict(extra="allow")

    device: str | None = None
    gpu_name: str | None = None
    vram_mb: int | None = Field(default=None, strict=True)
    engine_version: str | None = None
    # the inpainters it can run; None (an older executor): BASE_INPAINTERS
    inpainters: list[str] | None = Field(default=None, max_length=16)
    # what its build runs, as `et_sorawm --version` says: the detector weights (file, sha256,
    # training seeds) and the devices (cpu, cuda); None from an older executor
    detector: str | None = Field(default=None, max_length=512)
    devices: list[str] | None = Field(default=None, max_length=8)

    def runs(self) -> list[str]:
        return list(BASE_INPAINTERS) if self.inpainters is None else self.inpainters


class ClaimRequest(BaseModel):
    executor_id: str = Field(min_length=1, max_length=128)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    # strict: a number, not "5" or true (what the schema says; lax pydantic takes both)
    wait_s: float = Field(default=0.0, ge=0, le=MAX_CLAIM_WAIT_S, strict=True)


class ClaimedInput(BaseModel):
    url: str  # a path on the service (an executor follows no other origin)
    size: int = Field(ge=0)
    sha256: Sha256Hex
    filename: str


class ClaimResponse(BaseModel):
    task_id: TaskId
    lease_token: str
    lease_expires_at: datetime
    heartbeat_s: float
    attempt: int
    input: ClaimedInput
    options: dict[str, Any] = Field(default_factory=dict)


class HeartbeatRequest(BaseModel):
    lease_token: str = Field(min_length=1)
    progress: float | None = Field(default=None, ge=0, le=100, strict=True)
    stage: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=2000)


class HeartbeatResponse(BaseModel):
    lease_expires_at: datetime
    cancel: bool


class FailRequest(BaseModel):
    lease_token: str = Field(min_length=1)
    error: str = Field(min_length=1, max_length=4000)
    retryable: bool = Field(default=False, strict=True)
    # "this executor cannot" (its disk, memory or device), not "this task is bad": the task
    # goes back without using an attempt, and this executor cools down before its next claim
    executor_fault: bool = Field(default=False, strict=True)


class FailResponse(BaseModel):
    status: TaskStatus
    attempts: int
    # after an executor fault: how long this executor gets no task (it need not ask)
    cooldown_s: float = 0.0


class ResultAck(BaseModel):
    task_id: str
    status: TaskStatus
    result: FileInfo


MAX_LOG_MESSAGE = 20_000  # characters of one log line
# request bodies past these get 413 (uploads have limits of their own): every JSON body, a
# batch of log records, and the one-line WeFastAPI form (a line and its JSON escaping)
MAX_JSON_BODY_BYTES = 64 * 1024
MAX_LOG_BATCH_BYTES = 16 * 1024 * 1024
MAX_LOG_LINE_BODY_BYTES = 8 * MAX_LOG_MESSAGE


class LogRecordIn(BaseModel):
    ts: IsoTime | None = None
    level: str = "INFO"
    message: str = Field(max_length=MAX_LOG_MESSAGE)
    task_id: str | None = Field(default=None, max_length=64)


class LogBatch(BaseModel):
    executor_id: str = Field(min_length=1, max_length=128)
    records: list[LogRecordIn] = Field(max_length=5000)


class WeFastApiLog(BaseModel):
    """WeFastAPI executors post one line at a time: `{level, message}`."""

    level: str = "info"
    message: str = Field(max_length=MAX_LOG_MESSAGE)


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
    faults: int = 0  # executor faults in a row (a finished task resets them)
    cooldown_until: datetime | None = None  # no task for it before then
    last_fault: str | None = None


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
