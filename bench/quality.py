"""Engine quality: how well the watermark comes off, what else it costs, and how fast.

    python -m bench.quality [--quick] [--work DIR] [--json FILE]

Builds an evaluation set from the synthetic generator with seeds >= 1_000_000 (never used
for training), with explicit scene overrides (static / panning, dark / bright, grainy,
portrait / landscape, one clip without a mark, one with audio), runs the engine on each clip
and compares it in the same run with: doing nothing, OpenCV TELEA given the true boxes, and
the ceiling (the clean clip through the same encode). Metrics per clip:

- detection recall / precision per frame at IoU >= 0.5 of the box the engine uses (sampling
  scanner + tracker, before dilation; "n/a" when no detector is installed);
- PSNR and SSIM (luma) inside the dilated mark boxes against the clean clip;
- PSNR outside the boxes against the input (damage), next to the ceiling's (the input
  re-encoded alone);
- flicker: mean |Y(t) - Y(t-1)| inside the box within each mark segment, relative to the
  clean clip's (1.0 = same temporal change as the real video; lower = steadier);
- frames, fps and audio kept; engine frames/s against decode+encode alone.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from loguru import logger

from executor.engine.inpaint import MarkPlan, margin_for
from executor.engine.pipeline import remove_watermark
from executor.engine.probe import probe
from executor.engine.reader import VideoReader
from executor.engine.roundtrip import copy_video
from executor.engine.writer import VideoWriter
from tools.synth.audio import write_soundtrack
from tools.synth.background import Scene
from tools.synth.clip import _streams
from tools.synth.mark import make_mark
from tools.synth.schedule import jump_schedule

SEED = 1_000_000
PRESET = "veryfast"


@dataclass(frozen=True)
class EvalClip:
    name: str
    width: int
    height: int
    seconds: float
    camera: str = "static"  # static | pan | fast
    gain: float = 1.0
    grain: float = 2.0
    mark: bool = True
    audio: bool = False


FULL = [
    EvalClip("land-static", 1280, 720, 4.0),
    EvalClip("land-pan", 1280, 720, 4.0, camera="pan"),
    EvalClip("land-fast-pan", 1280, 720, 4.0, camera="fast"),
    EvalClip("land-grainy-static", 1280, 720, 4.0, grain=8.0),
    EvalClip("port-bright-static", 704, 1280, 4.0, gain=1.6),
    EvalClip("port-dark-pan", 704, 1280, 4.0, camera="pan", gain=0.35),
    EvalClip("port-pan-audio", 704, 1280, 4.0, camera="pan", audio=True),
    EvalClip("land-no-mark", 1280, 720, 3.0, mark=False),
]
QUICK = [
    EvalClip("land-static", 640, 360, 3.0),
    EvalClip("port-pan-audio", 360, 640, 3.0, camera="pan", audio=True),
    EvalClip("land-no-mark", 640, 360, 2.0, mark=False),
]


@dataclass
class Result:
    clip: str
    frames: int = 0
    recall: float | None = None
    precision: float | None = None
    detected_by: str = "true boxes"
    psnr_in: dict[str, float] = field(default_factory=dict)
    ssim_in: dict[str, float] = field(default_factory=dict)
    psnr_out: dict[str, float] = field(default_factory=dict)
    flicker: dict[str, float] = field(default_factory=dict)
    kept: bool = True
    engine_fps: float = 0.0
    copy_fps: float = 0.0


# -- the evaluation set ---------------------------------------------------------------


def build(clip: EvalClip, index: int, folder: Path) -> tuple[Path, Path, list[list[int] | None]]:
    """Render `clip` (seed SEED, index) to folder: marked.mp4, clean.mp4 and the true boxes."""
    scene_rng, mark_rng, schedule_rng, audio_rng = _streams(SEED, index)
    fps = 30
    frames = round(clip.seconds * fps)
    scene = Scene(scene_rng, clip.width, clip.height, fps)
    scene.gain, scene.grain = clip.gain, clip.grain
    if clip.camera == "static":
        scene.pan_velocity = np.zeros(2)
        scene.zoom_rate = 0.0
    else:
        speed = 0.35 if clip.camera == "fast" else 0.06
        direction = scene.pan_velocity / max(1e-9, float(np.linalg.norm(scene.pan_velocity)))
        scene.pan_velocity = speed * direction
    sprite = make_mark(mark_rng, clip.width)
    positions = jump_schedule(
        schedule_rng,
        frames=frames,
        fps=fps,
        frame_size=(clip.width, clip.height),
        mark_size=sprite.size,
        absent_chance=0.0,
    )
    folder.mkdir(parents=True, exist_ok=True)
    marked_path, clean_path = folder / "marked.mp4", folder / "clean.mp4"
    soundtrack = folder / "audio.m4a"
    if clip.audio:
        write_soundtrack(audio_rng, soundtrack, clip.seconds)
    boxes: list[list[int] | None] = []

    def writer(path: Path) -> VideoWriter:
        return VideoWriter(
            path,
            width=clip.width,
            height=clip.height,
            frame_rate=Fraction(fps),
            preset=PRESET,
            audio_from=soundtrack if clip.audio else None,
        )

    with writer(marked_path) as marked, writer(clean_path) as clean:
        for i, position in enumerate(positions):
            rgb = scene.render(i)
            clean.write_rgb(rgb, pts=i)
            if clip.mark and position is not None:
                sprite.composite(rgb, *position)
                width, height = sprite.size
                boxes.append([position[0], position[1], position[0] + width, position[1] + height])
            else:
                boxes.append(None)
            marked.write_rgb(rgb, pts=i)
    return marked_path, clean_path, boxes


# -- metrics --------------------------------------------------------------------------


def lumas(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [frame.y.astype(np.float32) for frame in reader]


def psnr(mse: float) -> float:
    return math.inf if mse <= 0 else 10 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = cv2.GaussianBlur(a, (0, 0), 1.5), cv2.GaussianBlur(b, (0, 0), 1.5)
    var_a = cv2.GaussianBlur(a * a, (0, 0), 1.5) - mu_a**2
    var_b = cv2.GaussianBlur(b * b, (0, 0), 1.5) - mu_b**2
    cov = cv2.GaussianBlur(a * b, (0, 0), 1.5) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((num / den).mean())


def inside_metrics(
    clean: list[np.ndarray], other: list[np.ndarray], plan: MarkPlan
) -> tuple[float, float]:
    """(PSNR, SSIM) inside the boxes, over all marked frames."""
    error, count, ssims = 0.0, 0, []
    for index, (a, b) in enumerate(zip(clean, other, strict=False)):
        box = plan.box(index)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        ca, cb = a[y1:y2, x1:x2], b[y1:y2, x1:x2]
        error += float(np.square(ca - cb).sum())
        count += ca.size
        ssims.append(ssim(ca, cb))
    if not count:
        return math.nan, math.nan
    return psnr(error / count), float(np.mean(ssims))


def outside_psnr(reference: list[np.ndarray], other: list[np.ndarray], plan: MarkPlan) -> float:
    error, count = 0.0, 0
    for index, (a, b) in enumerate(zip(reference, other, strict=False)):
        mask = np.ones(a.shape, dtype=bool)
        box = plan.box(index)
        if box is not None:
            mask[box[1] : box[3], box[0] : box[2]] = False
        error += float(np.square(a - b)[mask].sum())
        count += int(mask.sum())
    return psnr(error / max(1, count))


def flicker(frames: list[np.ndarray], plan: MarkPlan) -> float:
    changes = []
    for segment in plan.segments:
        x1, y1, x2, y2 = segment.box
        for t in range(segment.start + 1, segment.end + 1):
            changes.append(
                float(np.abs(frames[t][y1:y2, x1:x2] - frames[t - 1][y1:y2, x1:x2]).mean())
            )
    return float(np.mean(changes)) if changes else math.nan


def detection_scores(marked: Path, boxes: list[list[int] | None]) -> tuple[float, float] | None:
    """Per-frame recall and precision at IoU >= 0.5 of where the engine puts the mark (the
    sampling scanner + tracker, before dilation), or None without a detector."""
    try:
        from executor.engine.pipeline import load_detector
        from executor.engine.track import track
        from tools.train.evaluate import detect_video
    except ImportError:
        return None
    try:
        detector = load_detector(device="auto")
    except Exception as error:  # no weights shipped, no ultralytics...
        logger.warning("detector unavailable: {}", error)
        return None
    detections, fps, _ = detect_video(detector, marked)
    info = probe(marked)
    found = track(detections, width=info.width, height=info.height, fps=fps).detected_boxes
    true_pos = false_pos = false_neg = 0
    for truth, box in zip(boxes, found, strict=False):
        hit = truth is not None and box is not None and iou(box, truth) >= 0.5
        true_pos += hit
        false_neg += truth is not None and not hit
        false_pos += box is not None and not hit
    recall = true_pos / max(1, true_pos + false_neg) if any(boxes) else math.nan
    predicted = true_pos + false_pos
    precision = true_pos / predicted if predicted else math.nan  # n/a: nothing found
    return recall, precision


def iou(a: Any, b: Any) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def kept(source: Path, out: Path) -> bool:
    a, b = probe(source), probe(out)
    return (
        a.frame_count == b.frame_count
        and a.frame_rate == b.frame_rate
        and a.has_audio == b.has_audio
    )


# -- one clip -------------------------------------------------------------------------


def evaluate(clip: EvalClip, index: int, work: Path, detect: bool) -> Result:
    folder = work / clip.name
    marked, clean, boxes = build(clip, index, folder)
    result = Result(clip.name, frames=len(boxes))
    plan = MarkPlan.from_boxes(
        boxes,
        width=clip.width,
        height=clip.height,
        frames=len(boxes),
        margin=margin_for(clip.width, clip.height),
    )
    if detect:
        scores = detection_scores(marked, boxes)
        if scores is not None:
            result.recall, result.precision = scores
    use_detector = False
    try:
        import executor.engine.track  # type: ignore[import-not-found]  # noqa: F401

        use_detector = result.precision is not None
    except ImportError:
        pass
    outputs = {"engine": folder / "engine.mp4", "telea": folder / "telea.mp4"}
    started = time.perf_counter()
    remove_watermark(
        marked, outputs["engine"], boxes=None if use_detector else boxes, preset=PRESET
    )
    result.engine_fps = len(boxes) / (time.perf_counter() - started)
    result.detected_by = "detector+tracker" if use_detector else "true boxes"
    remove_watermark(marked, outputs["telea"], inpainter="telea", boxes=boxes, preset=PRESET)
    ceiling, input_copy = folder / "ceiling.mp4", folder / "input_copy.mp4"
    copy_video(clean, ceiling, preset=PRESET, measure=False)
    started = time.perf_counter()
    copy_video(marked, input_copy, preset=PRESET, measure=False)
    result.copy_fps = len(boxes) / (time.perf_counter() - started)
    reference, source = lumas(clean), lumas(marked)
    runs = {
        "engine": lumas(outputs["engine"]),
        "telea": lumas(outputs["telea"]),
        "nothing": source,
        "ceiling": lumas(ceiling),
    }
    for name, frames in runs.items():
        result.psnr_in[name], result.ssim_in[name] = inside_metrics(reference, frames, plan)
        result.flicker[name] = flicker(frames, plan)
    result.flicker["clean"] = flicker(reference, plan)
    result.psnr_out["engine"] = outside_psnr(source, runs["engine"], plan)
    result.psnr_out["ceiling"] = outside_psnr(source, lumas(input_copy), plan)
    # A clip without a mark: the whole picture against the clean clip's own re-encode.
    result.psnr_out["engine_vs_clean"] = outside_psnr(reference, runs["engine"], plan)
    result.psnr_out["ceiling_vs_clean"] = outside_psnr(reference, runs["ceiling"], plan)
    result.kept = kept(marked, outputs["engine"])
    return result


# -- report ---------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def report(results: list[Result], clips: list[EvalClip]) -> tuple[str, dict[str, bool]]:
    lines = [
        "| clip | det. recall / precision | PSNR in: engine / TELEA / nothing / ceiling (dB) "
        "| SSIM in: engine / TELEA / nothing | PSNR out: engine / ceiling (dB) "
        "| flicker vs clean | frames/fps/audio kept | engine fps / decode+encode fps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r.flicker["engine"] / r.flicker["clean"] if r.flicker["clean"] else math.nan
        lines.append(
            f"| {r.clip} ({r.frames} fr, {r.detected_by}) | {fmt(r.recall)} / {fmt(r.precision)} "
            f"| {fmt(r.psnr_in['engine'])} / {fmt(r.psnr_in['telea'])} / "
            f"{fmt(r.psnr_in['nothing'])} / {fmt(r.psnr_in['ceiling'])} "
            f"| {fmt(r.ssim_in['engine'], 3)} / {fmt(r.ssim_in['telea'], 3)} / "
            f"{fmt(r.ssim_in['nothing'], 3)} "
            f"| {fmt(r.psnr_out['engine'])} / {fmt(r.psnr_out['ceiling'])} "
            f"| {fmt(ratio)} | {'yes' if r.kept else 'NO'} "
            f"| {r.engine_fps:.1f} / {r.copy_fps:.1f} |"
        )
    marked = [r for r, c in zip(results, clips, strict=True) if c.mark]
    unmarked = [r for r, c in zip(results, clips, strict=True) if not c.mark]
    gain_over_telea = float(np.mean([r.psnr_in["engine"] - r.psnr_in["telea"] for r in marked]))
    beats_nothing = [r.psnr_in["engine"] - r.psnr_in["nothing"] for r in marked]
    outside_gap = [r.psnr_out["ceiling"] - r.psnr_out["engine"] for r in results]
    unmarked_gap = [
        r.psnr_out["ceiling_vs_clean"] - r.psnr_out["engine_vs_clean"] for r in unmarked
    ]
    flicker_ratio = float(
        np.mean([r.flicker["engine"] / r.flicker["clean"] for r in marked if r.flicker["clean"]])
    )
    goals = {
        f"masked PSNR >= TELEA(true boxes) + 3 dB on average (got {gain_over_telea:+.2f} dB)": (
            gain_over_telea >= 3.0
        ),
        "masked PSNR better than doing nothing on every clip (min "
        f"{min(beats_nothing):+.2f} dB)": min(beats_nothing) > 0,
        f"outside PSNR within 1 dB of the ceiling (worst gap {max(outside_gap):.2f} dB)": (
            max(outside_gap) <= 1.0
        ),
        "no-mark clips within 1 dB of the ceiling (gap "
        f"{', '.join(f'{g:.2f}' for g in unmarked_gap) or 'n/a'} dB)": all(
            g <= 1.0 for g in unmarked_gap
        ),
        f"flicker within 10% of the clean clip's on average (ratio {flicker_ratio:.2f}, "
        "goal <= 1.10)": flicker_ratio <= 1.10,
        "frames, fps and audio kept on every clip": all(r.kept for r in results),
    }
    engine = sum(r.frames for r in results) / sum(r.frames / r.engine_fps for r in results)
    copy = sum(r.frames for r in results) / sum(r.frames / r.copy_fps for r in results)
    lines.append("")
    lines.append(
        f"Speed: engine {engine:.1f} frames/s, decode+encode alone {copy:.1f} frames/s "
        f"(engine = {engine / copy:.0%} of the plain re-encode speed)."
    )
    lines.append("")
    for goal, met in goals.items():
        lines.append(f"- {'met' if met else 'MISSED'}: {goal}")
    return "\n".join(lines), goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="3 small clips (about a minute)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/sorawm-quality"),
        help="folder for the clips and outputs",
    )
    parser.add_argument("--no-detect", action="store_true", help="skip the detector metrics")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="WARNING", format="{message}")
    clips = QUICK if args.quick else FULL
    results = []
    started = time.perf_counter()
    for index, clip in enumerate(clips):
        results.append(evaluate(clip, index, args.work, detect=not args.no_detect))
        print(
            f"[{index + 1}/{len(clips)}] {clip.name} done ({time.perf_counter() - started:.0f}s)",
            file=sys.stderr,
        )
    text, goals = report(results, clips)
    print(text)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2, default=str))
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
