"""Loguru for the service process: one readable line per event, task and executor ids shown."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from loguru import logger

FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <7} | {message}{extra[_ids]}"


def _add_ids(record: Any) -> None:
    extra = record["extra"]
    ids = [f"{key}={extra[key]}" for key in ("task_id", "executor_id") if extra.get(key)]
    extra["_ids"] = f"  [{' '.join(ids)}]" if ids else ""


def configure_logging(level: str, log_dir: Path | None) -> None:
    """stderr, plus a rotating file in `log_dir` when given.

    diagnose=False everywhere: a traceback must never print variable values (tokens).
    """
    logger.remove()
    logger.configure(patcher=_add_ids)
    logger.add(sys.stderr, level=level.upper(), format=FORMAT, backtrace=False, diagnose=False)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / "service.log",
            level=level.upper(),
            format=FORMAT,
            rotation="50 MB",
            retention=10,
            backtrace=False,
            diagnose=False,
        )
