"""CLI: python -m tools.synth OUT_DIR --count N --seed S ..."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from loguru import logger

from tools.synth.clip import ClipSpec, generate_clip
from tools.synth.spec import FAMILIES, SPLITS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.synth",
        description=(
            "Generate synthetic clips carrying a moving Sora-style watermark. For each clip "
            "writes clip_NNNNN_marked.mp4 (with the mark), clip_NNNNN_clean.mp4 (the same "
            "video without it, same encode), clip_NNNNN_boxes.json (frame index -> "
            "[x1, y1, x2, y2] with x2/y2 exclusive, or null when no mark) and "
            "clip_NNNNN_meta.json. The same seed always gives the same clips."
        ),
    )
    parser.add_argument("out_dir", type=Path, help="folder to write the clips into")
    parser.add_argument("--count", type=int, default=1, help="how many clips (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--start", type=int, default=0, help="index of the first clip (default 0)")
    parser.add_argument("--width", type=int, default=640, help="frame width in pixels (even)")
    parser.add_argument("--height", type=int, default=360, help="frame height in pixels (even)")
    parser.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3)")
    parser.add_argument("--fps", type=int, default=30, help="frames per second (default 30)")
    parser.add_argument("--audio", action="store_true", help="add an AAC soundtrack")
    parser.add_argument("--crf", type=int, default=18, help="x264 quality, lower is better")
    parser.add_argument(
        "--preset", default="veryfast", help="x264 preset (default veryfast, for speed)"
    )
    parser.add_argument(
        "--family",
        choices=FAMILIES,
        default="classic",
        help="classic: the shipped detector's training mark; sora: the wide family (logos, "
        "fonts, @handle, photos, edges, fades, distractors)",
    )
    parser.add_argument(
        "--split", choices=SPLITS, default="train", help="photos/fonts/logos pool (sora family)"
    )
    args = parser.parse_args(argv)
    if args.count < 1 or args.seconds <= 0 or args.fps < 1:
        parser.error("--count, --seconds and --fps must be positive")
    if args.width < 64 or args.height < 64 or args.width % 2 or args.height % 2:
        parser.error("--width and --height must be even and at least 64")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="{message}")
    spec = ClipSpec(
        width=args.width,
        height=args.height,
        seconds=args.seconds,
        fps=args.fps,
        audio=args.audio,
        crf=args.crf,
        preset=args.preset,
        family=args.family,
        split=args.split,
    )
    started = time.perf_counter()
    for n, index in enumerate(range(args.start, args.start + args.count), start=1):
        files = generate_clip(args.out_dir, args.seed, index, spec)
        logger.info(
            "[{}/{}] {} — {} frames in {:.1f}s",
            n,
            args.count,
            files.marked.name,
            files.frames,
            files.seconds,
        )
    logger.info(
        "done: {} clips in {:.1f}s → {}", args.count, time.perf_counter() - started, args.out_dir
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
