"""Executor settings: `SORAWM_*` environment variables and a `.env` file; flags override."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contract import MAX_CLAIM_WAIT_S, executor_id_for


class ExecutorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SORAWM_", env_file=".env", extra="ignore")

    service_host: str = "http://127.0.0.1:5344/"
    id: str = Field(default="1", min_length=1, max_length=64)
    token: str | None = None
    device: str = "auto"
    work_dir: Path = Path("work")
    detector_weights: Path | None = None
    inpainter: str = "temporal"
    lama_model: Path | None = None
    crf: int = Field(default=18, ge=0, le=51)
    poll_wait: float = Field(default=20.0, ge=0, le=MAX_CLAIM_WAIT_S)
    max_tasks: int | None = Field(default=None, ge=1)
    once: bool = False
    log_level: str = "INFO"
    # SIGTERM: how long the current task may run on before it is handed back
    drain_timeout: float = Field(default=60.0, ge=0)
    # an engine whose progress has not moved for this long is killed (the task is retried)
    stall_timeout: float = Field(default=300.0, gt=0)
    # network retries back off exponentially up to this (the seed executor retried every 60 s)
    retry_cap: float = Field(default=60.0, gt=0)
    # a finished result is kept and its upload retried for this long before giving up
    upload_patience: float = Field(default=24 * 3600.0, gt=0)

    @field_validator("service_host")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            value = "http://" + value
        return value.rstrip("/")

    @property
    def executor_id(self) -> str:
        """`auto` names the executor after its host (a container: its id), so replicas of
        one compose service get distinct ids."""
        return executor_id_for(socket.gethostname() if self.id == "auto" else self.id)
