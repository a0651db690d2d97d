"""`python -m service` / `sorawm-service`: run the service."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError

from service.app import create_app
from service.logsetup import configure_logging
from service.settings import ServiceSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sorawm-service",
        description=(
            "The SoraWM fleet service: takes videos, keeps the task table and the files, and "
            "hands the work to executors. Every flag also reads from the environment "
            "(SORAWM_HOST, SORAWM_PORT, ...) and a .env file; flags win."
        ),
    )
    parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to listen on (default 5344)")
    parser.add_argument(
        "--data-dir", type=Path, help="where task files and the SQLite db live (default ./data)"
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL: empty for SQLite in the data dir, or postgresql+asyncpg://user@host/db",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO (default), WARNING, ERROR")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    overrides: dict[str, Any] = {
        key: value for key, value in vars(args).items() if value is not None
    }
    try:
        settings = ServiceSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"sorawm-service: invalid settings: {problems}") from exc
    configure_logging(settings.log_level, settings.data_dir / "logs")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        # the real peer decides loopback exemption; forwarded headers are judged by
        # SORAWM_TRUSTED_PROXIES in service.auth, never by uvicorn
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
