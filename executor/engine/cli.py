"""python -m executor.engine IN OUT: remove the moving Sora watermark from one video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loguru import logger

from executor.engine.cancel import Cancelled
from executor.engine.errors import VideoError
from executor.engine.inpaint import NAMES, InpainterError
from executor.engine.pipeline import DetectorUnavailable, load_boxes, remove_watermark
from executor.engine.regions import UserArea, UserAreas, parse_mask, parse_region
from executor.engine.writer import DEFAULT_PRESET

EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m executor.engine",
        description=(
            "Remove the moving Sora watermark from a video. Only the pixels under the mark "
            "change; timing, rotation, colour tags and the audio track are kept."
        ),
    )
    parser.add_argument("input", type=Path, help="the video to clean")
    parser.add_argument("output", type=Path, help="where to write the cleaned video (.mp4)")
    parser.add_argument(
        "--device",
        default="auto",
        help="where detection and LaMa run: auto (a GPU when there is one), cpu or cuda:N",
    )
    parser.add_argument(
        "--inpainter",
        choices=NAMES,
        default="temporal",
        help=(
            "how the area under the mark is repainted: temporal (default; from other moments "
            "where that spot is visible, aligned for camera motion), telea (OpenCV spatial "
            "fill, per frame) or lama (a TorchScript LaMa model, see --lama-model)"
        ),
    )
    parser.add_argument(
        "--detector-weights",
        type=Path,
        help="YOLO weights for the watermark detector (default: the weights shipped with it)",
    )
    parser.add_argument(
        "--lama-model", type=Path, help="TorchScript LaMa model file, needed by --inpainter lama"
    )
    parser.add_argument(
        "--crf", type=int, default=18, help="x264 quality of the output, 0-51, lower is better"
    )
    parser.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        help=f"x264 preset: ultrafast ... veryslow (default {DEFAULT_PRESET}); slower presets "
        "make smaller files at the same --crf quality",
    )
    parser.add_argument(
        "--boxes",
        type=Path,
        help=(
            'skip detection and use these mark boxes: a JSON file {"frame index": [x1, y1, '
            "x2, y2] or null} (x2, y2 exclusive) or a list with one entry per frame"
        ),
    )
    parser.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="X1,Y1,X2,Y2[@START-END]",
        help=(
            "clean this box (pixels, x2 and y2 exclusive) instead of what the detector finds, "
            "from START to END seconds (either may be left out: 2-, -4.5; no @: the whole "
            "video); repeatable. For other kinds of marks, or a mark the detector misses"
        ),
    )
    parser.add_argument(
        "--mask",
        action="append",
        default=[],
        metavar="PNG[@START-END]",
        help=(
            "clean the white pixels of this mask image (the video's size) instead of what the "
            "detector finds, from START to END seconds; repeatable. Where several --region and "
            "--mask cover a frame, their union is cleaned"
        ),
    )
    parser.add_argument(
        "--no-detect",
        action="store_true",
        help="clean only the --region/--mask areas: no detection anywhere",
    )
    parser.add_argument(
        "--no-invert",
        action="store_true",
        help="fill the whole mark with the inpainter instead of recovering the picture under "
        "its semi-transparent parts from its estimated matte",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, errors only")
    args = parser.parse_args(argv)
    if not 0 <= args.crf <= 51:
        parser.error("--crf must be between 0 and 51")
    try:
        areas: list[UserArea] = [parse_region(text) for text in args.region]
        areas += [parse_mask(text) for text in args.mask]
    except ValueError as error:
        parser.error(str(error))
    if args.no_detect and not areas:
        parser.error("--no-detect needs at least one --region or --mask")
    args.user = UserAreas(tuple(areas), detect=not args.no_detect) if areas else None
    return args


class _Bar:
    """A one-line text progress bar on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr is not None
        self.shown = -1

    def __call__(self, percent: float, stage: str) -> None:
        whole = int(percent)
        if not self.enabled or whole == self.shown:
            return
        self.shown = whole
        filled = whole * 30 // 100
        sys.stderr.write(f"\r{stage:>8} [{'#' * filled}{'.' * (30 - filled)}] {whole:3d}%")
        if whole >= 100:
            sys.stderr.write("\n")
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="ERROR" if args.quiet else "WARNING", format="{message}")
    try:
        boxes = load_boxes(args.boxes) if args.boxes else None
        report = remove_watermark(
            args.input,
            args.output,
            inpainter=args.inpainter,
            device=args.device,
            detector_weights=args.detector_weights,
            lama_model=args.lama_model,
            crf=args.crf,
            preset=args.preset,
            boxes=boxes,
            user=args.user,
            invert=not args.no_invert,
            progress=_Bar(not args.quiet),
        )
    except (VideoError, InpainterError, DetectorUnavailable, ValueError) as error:
        sys.stderr.write(f"\nerror: {error}\n")
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        sys.stderr.write("\ncancelled\n")
        return EXIT_CANCELLED
    if not args.quiet:
        stages = ", ".join(f"{name} {secs:.1f}s" for name, secs in report.seconds.items())
        sys.stderr.write(
            f"{args.output}: {report.frames} frames, {len(report.segments)} mark segments, "
            f"{report.inpainter}; {stages}\n"
        )
        for refused in report.refused:
            sys.stderr.write(
                f"  frames {refused['start']}-{refused['end']}: a candidate at {refused['box']} "
                f"was left alone ({refused['reason']})\n"
            )
    return 0
