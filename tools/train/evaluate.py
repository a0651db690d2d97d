"""Score the detector (+ tracking) on held-out synthetic videos.

    python -m tools.train.evaluate --clips 8 --size 1280x720 --size 704x1280

Clips come from seeds >= EVAL_SEED_START (1_000_000), never used in training. Each clip is
encoded to H.264 by the generator and read back through the engine's VideoReader, so the
detector sees decoded frames, as in production. Per frame, a box is correct when its IoU
with the ground truth is >= 0.5; `covered` counts marks lying wholly inside the dilated box
(what inpainting needs). Detection runs as in the engine: the sampling scanner (scan.py).

The wide family's held-out clips (tools.synth.heldout_clips: photos, fonts and a logo shape
never used in training), scored per style group, for one or more weights files side by side:

    python -m tools.train.evaluate --heldout 18 --seconds 4 \
        --weights executor/engine/weights/sorawm-yolo-n.pt --weights .train/wild.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from loguru import logger

from executor.engine.detect import DEFAULT_CONF, DEFAULT_IMGSZ, Detection, Detector
from executor.engine.frames import Box
from executor.engine.scan import Scanner
from executor.engine.track import Track, iou, track
from executor.engine.video import VideoReader
from tools.synth import ClipSpec, HeldoutClip, generate_clip, heldout_clips
from tools.train.dataset import EVAL_SEED_START

IOU_THRESHOLD = 0.5


@dataclass
class Score:
    frames: int = 0
    marked: int = 0  # frames with a mark
    predicted: int = 0  # frames with a box
    correct: int = 0  # frames whose box has IoU >= 0.5 with the mark
    covered: int = 0  # frames whose mark lies wholly inside the dilated box
    seconds: float = 0.0  # detection time

    @property
    def recall(self) -> float:
        return self.correct / self.marked if self.marked else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def coverage(self) -> float:
        return self.covered / self.marked if self.marked else 1.0

    def add(self, other: Score) -> None:
        for name in ("frames", "marked", "predicted", "correct", "covered", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        return (
            f"{self.frames} frames ({self.marked} marked): recall {self.recall:.4f}, "
            f"precision {self.precision:.4f}, covered {self.coverage:.4f}"
        )


def detect_video(detector: Detector, path: Path) -> tuple[list[list[Detection]], float, float]:
    """Per-frame detections of a video as the engine finds them (the sampling scanner), its
    fps and the seconds spent."""
    started = time.perf_counter()
    scanner = Scanner(detector)
    with VideoReader(path, copy=False) as reader:
        fps = float(reader.info.frame_rate or 30)
        for frame in reader:
            scanner.add(frame)
    detections = scanner.finish()
    return detections, fps, time.perf_counter() - started


def score(truth: list[Box | None], found: Track) -> Score:
    result = Score(frames=len(truth))
    for gt, box, dilated in zip(truth, found.detected_boxes, found.boxes, strict=True):
        result.marked += gt is not None
        result.predicted += box is not None
        if gt is not None and box is not None and iou(gt, box) >= IOU_THRESHOLD:
            result.correct += 1
        if gt is not None and dilated is not None and _inside(gt, dilated):
            result.covered += 1
    return result


def evaluate_clip(
    detector: Detector, out_dir: Path, seed: int, index: int, spec: ClipSpec
) -> tuple[Score, Track]:
    """Generate clip (seed, index), detect, track and score it."""
    files = generate_clip(out_dir, seed, index, spec)
    raw = json.loads(files.boxes.read_text())
    truth: list[Box | None] = [
        (int(b[0]), int(b[1]), int(b[2]), int(b[3])) if b else None
        for b in (raw[str(i)] for i in range(len(raw)))
    ]
    detections, fps, spent = detect_video(detector, files.marked)
    found = track(detections, width=spec.width, height=spec.height, fps=fps)
    result = score(truth, found)
    result.seconds = spent
    return result, found


def style_groups(clip: HeldoutClip, style: dict[str, object]) -> list[str]:
    """The groups a held-out clip's score counts in: its case, and each style property."""
    opacity = float(style.get("opacity", 0.0))  # type: ignore[arg-type]
    band = "low" if opacity < 0.5 else "high" if opacity > 0.75 else "mid"
    groups = [
        "all",
        f"case:{clip.name}",
        f"logo:{style.get('logo')}{'' if style.get('filled') else ' (outline)'}",
        f"font:{style.get('font')}",
        f"handle:{'yes' if style.get('handle') else 'no'}",
        f"opacity:{band}",
        f"background:{style.get('background')}",
        f"edge:{'yes' if style.get('edge') else 'no'}",
        f"fade:{'yes' if style.get('fade') else 'no'}",
        "portrait" if clip.spec.height > clip.spec.width else "landscape",
    ]
    if not style.get("mark", True):
        groups.append("no-mark")
    groups += [f"negative:{kind}" for kind in style.get("negatives", [])]  # type: ignore[attr-defined]
    return groups


def evaluate_heldout(
    detector: Detector, clips: list[HeldoutClip], out_dir: Path
) -> dict[str, Score]:
    """Score each held-out clip and add it to every group it belongs to."""
    groups: dict[str, Score] = {}
    for clip in clips:
        result, _ = evaluate_clip(detector, out_dir, clip.seed, clip.index, clip.spec)
        meta_path = out_dir / f"clip_{clip.index:05d}_meta.json"
        style = json.loads(meta_path.read_text())["style"]
        logger.info("  {} ({}x{}): {}", clip.name, clip.spec.width, clip.spec.height, result.line())
        for group in style_groups(clip, style):
            groups.setdefault(group, Score()).add(result)
        for path in out_dir.glob(f"clip_{clip.index:05d}_*"):
            path.unlink()
    return groups


def _inside(inner: Box, outer: Box) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.train.evaluate",
        description="Recall/precision of detector + tracking on held-out synthetic videos.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--weights",
        type=Path,
        action="append",
        help="weights file, repeatable to compare (default: the shipped ones)",
    )
    parser.add_argument(
        "--heldout",
        type=int,
        default=0,
        help="score N held-out clips of the wide family (tools.synth.heldout_clips) per style",
    )
    parser.add_argument("--json", type=Path, default=None, help="--heldout: write scores here")
    parser.add_argument("--seed", type=int, default=EVAL_SEED_START, help=">= 1_000_000")
    parser.add_argument("--clips", type=int, default=4, help="clips per size")
    parser.add_argument(
        "--size", type=_size, action="append", help="WxH, repeatable (default 1280x720, 704x1280)"
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=DEFAULT_IMGSZ, help="network width of a frame")
    parser.add_argument("--conf", type=float, default=DEFAULT_CONF, help="detection threshold")
    args = parser.parse_args(argv)
    if args.seed < EVAL_SEED_START:
        parser.error(f"evaluation seeds start at {EVAL_SEED_START}: lower ones are for training")
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="{message}")
    weights_list: list[Path | None] = list(args.weights or [None])
    if args.heldout:
        return _main_heldout(args, weights_list)
    detector = Detector(
        weights_list[0],
        device=args.device,
        batch_size=args.batch,
        conf=args.conf,
        imgsz=args.imgsz,
    )
    total = Score()
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in args.size or [(1280, 720), (704, 1280)]:
            spec = ClipSpec(width=width, height=height, seconds=args.seconds, fps=args.fps)
            size_score = Score()
            for index in range(args.clips):
                result, _ = evaluate_clip(detector, Path(tmp), args.seed, index, spec)
                logger.info("{}x{} clip {}: {}", width, height, index, result.line())
                size_score.add(result)
            logger.info(
                "{}x{}: {}; {:.1f} frames/s",
                width,
                height,
                size_score.line(),
                size_score.frames / size_score.seconds,
            )
            total.add(size_score)
    logger.info("all (seed {}): {}", args.seed, total.line())
    return 0


def _main_heldout(args: argparse.Namespace, weights_list: list[Path | None]) -> int:
    """Held-out clips of the wide family, every weights file on the same clips, per group."""
    clips = heldout_clips(args.heldout, args.seed, seconds=args.seconds, fps=args.fps)
    results: dict[str, dict[str, Score]] = {}
    for weights in weights_list:
        name = str(weights) if weights else "shipped"
        logger.info("weights {}", name)
        detector = Detector(
            weights, device=args.device, batch_size=args.batch, conf=args.conf, imgsz=args.imgsz
        )
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = evaluate_heldout(detector, clips, Path(tmp))
    names = list(results)
    groups = sorted(
        {g for scores in results.values() for g in scores}, key=lambda g: (g != "all", g)
    )
    header = f"{'group':<40}" + "".join(f"{'R/P ' + Path(n).name[-18:]:>28}" for n in names)
    logger.info(header)
    for group in groups:
        cells = []
        for name in names:
            found = results[name].get(group)
            cells.append(
                f"{found.recall:.3f}/{found.precision:.3f} ({found.marked:>4})" if found else "-"
            )
        logger.info(f"{group:<40}" + "".join(f"{cell:>28}" for cell in cells))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    name: {
                        group: {
                            **asdict(score),
                            "recall": score.recall,
                            "precision": score.precision,
                            "coverage": score.coverage,
                        }
                        for group, score in scores.items()
                    }
                    for name, scores in results.items()
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
