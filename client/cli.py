"""`sorawm`: submit videos to a SoraWM fleet service, follow them, download the results."""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from client.api import ClientError, SoraWMClient
from client.progress import ProgressBar
from shared.contract import TaskOptions, TaskPublic, TaskStatus

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"}
POLL_S = 1.0


def video_files(paths: list[Path]) -> list[Path]:
    """Files as given; folders contribute their videos (not recursing), sorted by name."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise ClientError(f"no such file or folder: {path}")
    if not found:
        raise ClientError("no videos to submit")
    return found


def result_name(task: TaskPublic) -> str:
    stem = Path(task.input.filename).stem if task.input else task.id
    return f"{stem}.cleaned.mp4"


def describe(task: TaskPublic) -> str:
    text = f"{task.status.value:<10} {task.progress:5.1f}%"
    if task.stage and not task.status.ended:
        text += f"  {task.stage}"
    if task.error:
        text += f"  {task.error}"
    return text


# ------------------------------------------------------------------ commands


def _time_range(text: str, flag: str) -> dict[str, float]:
    """`START-END` seconds, either side optional → {start_s, end_s} as given."""
    start, sep, end = text.partition("-")
    try:
        times = {"start_s": float(start)} if start.strip() else {}
        times |= {"end_s": float(end)} if end.strip() else {}
    except ValueError:
        sep = ""
    if not sep:
        raise ClientError(f"{flag}: the time range is START-END in seconds, got {text!r}")
    return times


def task_options(args: argparse.Namespace) -> dict[str, Any]:
    """The task's options from the flags, checked against the contract before any upload."""
    options: dict[str, Any] = {}
    if args.inpainter:
        options["inpainter"] = args.inpainter
    regions = []
    for text in args.region:
        spec, at, times = text.partition("@")
        try:
            box = [int(value) for value in spec.split(",")]
        except ValueError:
            raise ClientError(f"--region: a box is X1,Y1,X2,Y2, got {spec!r}") from None
        regions.append({"box": box} | (_time_range(times, "--region") if at else {}))
    masks = []
    for text in args.mask:
        path, at, times = text.rpartition("@")
        if not at or not Path(path).is_file():  # an "@" in the file's own name
            path, times = text, ""
        try:
            png = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        except OSError as exc:
            raise ClientError(f"--mask: cannot read {path}: {exc}") from exc
        masks.append({"png_base64": png} | (_time_range(times, "--mask") if times else {}))
    if regions:
        options["regions"] = regions
    if masks:
        options["masks"] = masks
    if args.no_detect:
        options["detect"] = False
    try:
        TaskOptions.parse(options)
    except ValueError as exc:
        raise ClientError(str(exc)) from exc
    return options


def cmd_submit(api: SoraWMClient, args: argparse.Namespace) -> int:
    files = video_files(args.files)
    options = task_options(args)

    def upload(path: Path) -> TaskPublic | None:
        try:
            task = api.submit(path, options=options or None, progress=ProgressBar(path.name))
        except (ClientError, OSError) as exc:
            print(f"{path.name}: not submitted: {exc}", file=sys.stderr)
            return None
        print(f"{path.name}: task {task.id} {task.status.value}")
        return task

    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        tasks = [task for task in pool.map(upload, files) if task is not None]
    failed = len(files) - len(tasks)
    if args.wait and tasks:
        failed += follow(api, tasks, args.output)
    return 1 if failed else 0


def follow(api: SoraWMClient, tasks: list[TaskPublic], outdir: Path) -> int:
    """Shows each task's progress until it ends, downloading each result as it finishes;
    the number that did not finish."""
    outdir.mkdir(parents=True, exist_ok=True)
    shown = {task.id: "" for task in tasks}
    names = {task.id: task.input.filename if task.input else task.id for task in tasks}
    active = {task.id for task in tasks}
    failed = 0
    while active:
        for task_id in sorted(active):
            try:
                task = api.task(task_id)
            except ClientError as exc:
                print(f"{names[task_id]}: {exc}", file=sys.stderr)
                continue
            line = describe(task)
            if line != shown[task_id]:
                shown[task_id] = line
                print(f"{names[task_id]}: {line}", file=sys.stderr)
            if not task.status.ended:
                continue
            active.discard(task_id)
            if task.status == TaskStatus.FINISHED:
                dest = api.download(
                    task_id, outdir / result_name(task), progress=ProgressBar(f"{names[task_id]} ↓")
                )
                print(f"{names[task_id]}: saved {dest}")
            else:
                failed += 1
        if active:
            time.sleep(POLL_S)
    return failed


def cmd_status(api: SoraWMClient, args: argparse.Namespace) -> int:
    task = api.task(args.task_id)
    if args.json:
        print(task.model_dump_json(indent=2))
        return 0
    print(f"task      {task.id}")
    print(f"file      {task.input.filename if task.input else '-'}")
    print(f"status    {describe(task)}")
    print(f"attempts  {task.attempts}/{task.max_attempts}")
    print(f"executor  {task.executor_id or '-'}")
    print(f"created   {task.created_at:%Y-%m-%d %H:%M:%S} UTC")
    if task.result:
        print(f"result    {task.result.size} bytes, sha256 {task.result.sha256}")
    return 0


def cmd_list(api: SoraWMClient, args: argparse.Namespace) -> int:
    status = TaskStatus(args.status.upper()) if args.status else None
    page = api.tasks(status=status, limit=args.limit)
    for task in page.items:
        name = task.input.filename if task.input else "-"
        print(f"{task.id}  {task.created_at:%Y-%m-%d %H:%M}  {describe(task)}  {name}")
    if page.next_cursor:
        print(f"(more: --limit {args.limit * 2})", file=sys.stderr)
    return 0


def cmd_cancel(api: SoraWMClient, args: argparse.Namespace) -> int:
    task = api.cancel(args.task_id)
    note = " (the executor stops at its next heartbeat)" if task.cancel_requested else ""
    print(f"{task.id}: {task.status.value}{note}")
    return 0


def cmd_download(api: SoraWMClient, args: argparse.Namespace) -> int:
    task = api.task(args.task_id)
    dest = args.output or Path(result_name(task))
    if dest.is_dir():
        dest = dest / result_name(task)
    api.download(args.task_id, dest, progress=ProgressBar(dest.name))
    print(f"saved {dest}")
    return 0


# ------------------------------------------------------------------ parsing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sorawm",
        description="Remove the moving Sora watermark from videos with a SoraWM fleet service.",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("SORAWM_SERVER", "http://127.0.0.1:5344"),
        help="the service (env SORAWM_SERVER; default http://127.0.0.1:5344)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("SORAWM_TOKEN"),
        help="client bearer token (env SORAWM_TOKEN; not needed on the service's machine)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = commands.add_parser("submit", help="upload videos (files or folders of videos)")
    submit.add_argument("files", nargs="+", type=Path, metavar="FILE|DIR")
    submit.add_argument("--wait", action="store_true", help="follow the tasks, download results")
    submit.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("."),
        help="where --wait saves the results (default: here)",
    )
    submit.add_argument("--concurrency", type=int, default=3, help="parallel uploads (3)")
    submit.add_argument(
        "--inpainter",
        choices=["temporal", "telea", "lama"],
        help="ask the executors for this inpainter",
    )
    submit.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="X1,Y1,X2,Y2[@START-END]",
        help="clean this box (video pixels, x2/y2 exclusive) instead of detecting the mark, "
        "from START to END seconds (no @: the whole video); repeatable",
    )
    submit.add_argument(
        "--mask",
        action="append",
        default=[],
        metavar="PNG[@START-END]",
        help="clean the white pixels of this PNG (the video's size), from START to END "
        "seconds; repeatable",
    )
    submit.add_argument(
        "--no-detect", action="store_true", help="clean only the --region/--mask areas"
    )
    submit.set_defaults(run=cmd_submit)

    status = commands.add_parser("status", help="one task's state")
    status.add_argument("task_id")
    status.add_argument("--json", action="store_true", help="the raw JSON")
    status.set_defaults(run=cmd_status)

    listing = commands.add_parser("list", help="your tasks, newest first")
    listing.add_argument("--status", help="only this status (QUEUED, FINISHED, ...)")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(run=cmd_list)

    cancel = commands.add_parser("cancel", help="cancel a task")
    cancel.add_argument("task_id")
    cancel.set_defaults(run=cmd_cancel)

    download = commands.add_parser("download", help="save a finished task's video (resumable)")
    download.add_argument("task_id")
    download.add_argument("-o", "--output", type=Path, help="file or folder (default: here)")
    download.set_defaults(run=cmd_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with SoraWMClient(args.server, args.token) as api:
            return int(args.run(api, args))
    except ClientError as exc:
        print(f"sorawm: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
