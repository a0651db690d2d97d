"""`et_sorawm` / `python -m executor`: the executor's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import ValidationError

from executor.agent.settings import ExecutorSettings

DESCRIPTION = """\
Pulls watermark-removal tasks from a SoraWM fleet service, cleans each video locally
(detect the moving Sora mark, inpaint, re-encode with the audio kept), reports progress
and logs, and uploads the result. Every flag can also be set with an environment variable
(SORAWM_SERVICE_HOST, SORAWM_ID, SORAWM_TOKEN, ...) or a .env file; flags win."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="et_sorawm",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--service-host", metavar="URL", help="the service, e.g. http://host:5344/")
    add(
        "--id",
        help="this executor's number: it is known as ET-SoraWM-{id} (default 1; "
        "'auto' uses the host name)",
    )
    add("--token", help="executor bearer token (not needed on the service's own machine)")
    add("--device", help="auto (default: first GPU, else CPU), cpu, or cuda:N")
    add("--work-dir", type=Path, help="where inputs and results are kept while working (./work)")
    add("--detector-weights", type=Path, help="YOLO weights to detect the mark (default: shipped)")
    add("--inpainter", choices=["temporal", "telea", "lama"], help="how to fill (temporal)")
    add("--lama-model", type=Path, help="TorchScript LaMa model, for --inpainter lama")
    add("--crf", type=int, help="H.264 quality of the output, lower is better (18)")
    add(
        "--once",
        action="store_true",
        default=None,
        help="wait for one task (up to --poll-wait), process it, exit 0",
    )
    add("--max-tasks", type=int, metavar="N", help="exit 0 after N tasks")
    add("--poll-wait", type=float, metavar="S", help="long-poll seconds per claim, ≤ 30 (20)")
    add(
        "--drain-timeout",
        type=float,
        metavar="S",
        help="on SIGTERM, how long the current task may go on before it is handed back (60)",
    )
    add(
        "--stall-timeout",
        type=float,
        metavar="S",
        help="kill the engine when its progress has not moved for this long; the task is "
        "retried (300)",
    )
    add("--log-level", help="DEBUG, INFO (default), WARNING, ERROR")
    add("--version", action=_Version, help="the version, detector weights, inpainters and devices")
    return parser


class _Version(argparse.Action):
    """--version: what this build runs, told without loading the engine."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from executor.agent.offers import build_offers

        print(build_offers().lines())
        parser.exit()


def load_settings(argv: list[str] | None) -> ExecutorSettings:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if v is not None}
    try:
        return ExecutorSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"et_sorawm: invalid settings: {problems}") from exc


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(argv)
    from executor.agent.client import ServiceClient
    from executor.agent.logsink import LogShipper, configure_local_logging
    from executor.agent.loop import Agent
    from executor.engine.device import resolve_device

    settings.work_dir.mkdir(parents=True, exist_ok=True)
    configure_local_logging(settings.log_level, settings.work_dir / "logs")
    try:
        device = resolve_device(settings.device)
    except (ValueError, RuntimeError) as exc:
        logger.error("{}", exc)
        return 2
    client = ServiceClient(settings)
    shipper = LogShipper(client, level=settings.log_level)
    shipper.start()
    agent = Agent(settings, client, device)
    agent.install_signal_handlers()
    try:
        return agent.run()
    finally:
        shipper.close()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
