"""remove_watermark(): decode -> detect -> track -> inpaint -> encode.

Only the pixels inside the (dilated) mark boxes change; every other pixel goes to the encoder
exactly as decoded, so a clip without a mark comes out as a plain re-encode. The source is
decoded twice (the analysis pass: detection and camera motion; the last pass: repaint and
encode, the temporal inpainter keeping its source crops from that same decode) rather than
held in memory: decoding is cheap next to encoding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from loguru import logger

from executor.engine.ahead import Ahead
from executor.engine.cancel import Cancelled, ShouldCancel, check_cancel
from executor.engine.errors import engine_boundary
from executor.engine.frames import Box, Frame
from executor.engine.inpaint import (
    Inpainter,
    InpainterError,
    MarkPlan,
    Segment,
    make_inpainter,
    margin_for,
)
from executor.engine.inpaint.motion import CameraPath, MotionEstimator
from executor.engine.overlay import (
    EvidenceCollector,
    Matte,
    RunEvidence,
    confirm,
    estimate_matte,
    ink_extent,
    ink_mask,
    reach,
    recover,
    reuse,
)
from executor.engine.probe import VideoInfo, probe
from executor.engine.reader import VideoReader
from executor.engine.regions import UserAreas
from executor.engine.writer import DEFAULT_PRESET, VideoWriter

if TYPE_CHECKING:
    from executor.engine.detect import Detection, Detector
    from executor.engine.track import Track

ProgressCallback = Callable[[float, str], None]  # (percent 0..100, stage)
RawBoxes = Sequence[Sequence[int] | None] | Mapping[str | int, Sequence[int] | None]

BATCH = 16
SCAN_EDGE_GAP_S = 0.07  # two frames at 30 fps
# Share of the progress bar per stage, when the stage runs.
_WEIGHTS = {"detect": 0.35, "inpaint": 0.2, "encode": 0.45}


class DetectorUnavailable(Exception):
    """the watermark detector is not available or could not start"""


@dataclass
class Report:
    """What a run did."""

    frames: int
    fps: float
    width: int
    height: int
    inpainter: str
    detected: bool  # False when the caller gave the boxes
    segments: list[Segment]
    # detected segments refused by the overlay check (left exactly as decoded), and why
    refused: list[dict[str, Any]] = field(default_factory=list)
    # wall seconds per pass: detect (+ camera motion), inpaint (its preparation), encode
    # (the last pass: decode, repaint and encode, overlapped)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["segments"] = [asdict(segment) for segment in self.segments]
        return data


@engine_boundary
def remove_watermark(
    src: str | Path,
    dst: str | Path,
    *,
    inpainter: str = "temporal",
    device: str = "auto",
    detector_weights: str | Path | None = None,
    lama_model: str | Path | None = None,
    crf: int = 18,
    preset: str = DEFAULT_PRESET,
    boxes: RawBoxes | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: ShouldCancel | None = None,
    detector: Detector | None = None,
    invert: bool = True,
    user: UserAreas | None = None,
) -> Report:
    """Remove the moving watermark from `src` and write `dst`.

    `boxes` (a list per frame, or {frame index: [x1, y1, x2, y2] or None}) skips detection.
    `progress(percent, stage)` is called as the work goes on; `should_cancel()` is polled
    between batches and raises Cancelled (no output file is left). Raises VideoError for bad
    inputs, OutOfMemory and ExecutorFileError (which may pass on another try) for memory and
    the executor's own files, InpainterError for a bad inpainter setup, DetectorUnavailable
    when detection is needed but no detector is installed. `detector`: one already loaded (a
    long-running caller keeps one instead of loading the weights for every video); it overrides
    `detector_weights` and `device` for detection. `invert`: recover the picture under a
    semi-transparent mark by inverting its blend where its matte is known (else the
    inpainter's fill alone). `user`: the user's boxes and masks per time range, cleaned
    instead of what detection finds in their frames (detection is skipped when they cover
    every frame or `user.detect` is off).
    """
    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise ValueError("the output must not overwrite the input")
    info = probe(src)
    if user is not None:
        user.check(info.width, info.height)  # before any work: a bad area is the caller's error
    detecting = boxes is None and (user is None or user.needs_detection(info.frame_count, info.fps))
    painter = make_inpainter(inpainter, device=device, lama_model=lama_model, fps=info.fps)
    bar = _ProgressBar(progress, detecting=detecting)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    camera: CameraPath | None = None
    if boxes is not None:
        margin = margin_for(info.width, info.height)
        frames = max(info.frame_count, len(boxes))
        plan = MarkPlan.from_boxes(
            boxes, width=info.width, height=info.height, frames=frames, margin=margin
        )
        found = _Found(plan)
    elif not detecting:  # the user's areas are all there is to clean
        margin = margin_for(info.width, info.height)
        plan = MarkPlan(width=info.width, height=info.height, boxes=[], margin=margin)
        found = _Found(plan)
    else:
        if detector is None:
            detector = load_detector(detector_weights, device)
        # The camera path is estimated in the detection pass, beside the detector: the
        # temporal inpainter and the matte estimate both follow the picture with it.
        motion = MotionEstimator(background=True)
        try:
            found = _detect(src, info, detector, bar, should_cancel, motion)
            plan = found.plan
            camera = motion.finish()
        finally:
            motion.close()
        if invert:
            found.mattes = _estimate_mattes(found, camera)
    if user:
        plan = user.plan(
            width=info.width,
            height=info.height,
            frames=max(info.frame_count, plan.frames),
            fps=info.fps,
            margin=plan.margin,
            detected=plan,
        )
        # The user's areas are cleaned as given: no detected matte applies there.
        found.mattes = {i: m for i, m in found.mattes.items() if not plan.is_user(i)}
    seconds["detect"] = time.perf_counter() - started
    logger.info("{}: {} mark segments", src.name, len(plan.segments))

    try:
        started = time.perf_counter()
        painter.prepare(
            src,
            plan,
            progress=lambda fraction: bar.update("inpaint", fraction),
            should_cancel=should_cancel,
            camera=camera,
        )
        seconds["inpaint"] = time.perf_counter() - started

        started = time.perf_counter()
        frames_written, fill_seconds = _encode(
            src,
            dst,
            info,
            plan,
            painter,
            crf,
            preset,
            bar,
            should_cancel,
            found.mattes if invert else {},
        )
        # Wall time of the last pass; the repainting overlaps it (its own time is logged).
        seconds["encode"] = time.perf_counter() - started
    finally:
        painter.close()
    logger.debug("repainting took {:.2f}s beside the encoder", fill_seconds)
    bar.finish()
    report = Report(
        frames=frames_written,
        fps=info.fps,
        width=info.width,
        height=info.height,
        inpainter=painter.name,
        detected=detecting,
        segments=plan.segments,
        refused=found.refused,
        seconds={stage: round(value, 3) for stage, value in seconds.items()},
    )
    logger.info(
        "{} -> {}: {} frames, {} segments, {} in {:.1f}s",
        src.name,
        dst.name,
        report.frames,
        len(report.segments),
        report.inpainter,
        report.total_seconds,
    )
    return report


def load_boxes(path: str | Path) -> RawBoxes:
    """Boxes from a JSON file: {"frame index": [x1, y1, x2, y2] or null} or a list per frame."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read boxes from {path}: {error}") from error
    if isinstance(data, dict):
        items = list(data.values())
    elif isinstance(data, list):
        items = data
    else:
        raise ValueError(f"boxes in {path} must be a JSON object or list")
    for box in items:
        if box is not None and (
            not isinstance(box, list)
            or len(box) != 4
            or not all(isinstance(v, int | float) for v in box)
        ):
            raise ValueError(f"boxes in {path}: each box is [x1, y1, x2, y2] or null, got {box!r}")
    return data  # type: ignore[no-any-return]


def load_detector(weights: str | Path | None = None, device: str = "auto") -> Detector:
    """The watermark detector (raises DetectorUnavailable when it cannot run here)."""
    try:
        from executor.engine.detect import Detector, DetectorError
    except ImportError as error:
        raise DetectorUnavailable(
            f"no watermark detector is installed ({error}): pass the mark boxes (--boxes JSON)"
        ) from error
    try:
        return Detector(weights=weights, device=device, batch_size=BATCH)
    except DetectorError as error:
        raise DetectorUnavailable(str(error)) from error


@dataclass
class _Found:
    """What the analysis pass found: the plan, the mattes of its segments (by first frame)
    and the detected segments the overlay check refused."""

    plan: MarkPlan
    runs: list[tuple[Segment, RunEvidence]] = field(default_factory=list)  # accepted
    refused: list[dict[str, Any]] = field(default_factory=list)
    full_range: bool = False
    mattes: dict[int, Matte] = field(default_factory=dict)  # by frame index


def _detect(
    src: Path,
    info: VideoInfo,
    detector: Detector,
    bar: _ProgressBar,
    should_cancel: ShouldCancel | None,
    motion: MotionEstimator,
) -> _Found:
    """Scan the video for the mark (feeding `motion` on the way), track it, keep only the
    segments whose frames show an overlay, and estimate each one's matte."""
    from executor.engine.scan import Scanner
    from executor.engine.track import track

    total = max(1, info.frame_count)
    evidence = EvidenceCollector(info.width, info.height)
    full_range = False

    def observe(frame: Frame, mark: Box | None) -> None:
        nonlocal full_range
        full_range = frame.colour.full_range
        evidence.add(frame.index, frame.y, mark)
        # The detection box is tight: keep the mark's soft edges out of the tracking too.
        grown = None if mark is None else _grow_share(mark, 0.2, info.width, info.height)
        motion.add(frame.y, grown)

    scanner = Scanner(
        detector,
        on_frame=observe,
        progress=lambda done: bar.update("detect", done / total),
    )
    # Decoding runs a few frames ahead on its own thread, beside the detector.
    with Ahead(lambda: _frames(src), depth=4 * BATCH, name="decode") as frames:
        for frame in frames:
            scanner.add(frame)
            if frame.index % BATCH == BATCH - 1:
                check_cancel(should_cancel)
    detections = scanner.finish()
    logger.debug(
        "scan: {} frames, {} whole-frame detections, {} crop checks",
        scanner.stats.frames,
        scanner.stats.whole,
        scanner.stats.crops,
    )
    margin = margin_for(info.width, info.height)
    # The tracker dilates the boxes itself (its margin is a fraction of the box size);
    # `margin` here only sets the width of the blend's feather.
    # The scanner bisects every change to its frame: a gap it reports between two places
    # is the mark away, not a miss; only a fade's faintest frames at a segment's edge are
    # bridged (the tracker's own default, for detections of every frame, is wider).
    result = track(
        detections, width=info.width, height=info.height, fps=info.fps, edge_gap_s=SCAN_EDGE_GAP_S
    )
    boxes: list[Box | None] = [
        None if box is None else (int(box[0]), int(box[1]), int(box[2]), int(box[3]))
        for box in result.boxes
    ]
    boxes += [None] * (len(detections) - len(boxes))
    runs, refused = _confirm_segments(result, detections, evidence, boxes, info)
    masks: list[np.ndarray | None] = [None] * len(boxes)
    for segment, run in runs:
        weights = _ink_weights(run, segment.box, margin)
        masks[segment.start : segment.end + 1] = [weights] * segment.frames
    plan = MarkPlan(width=info.width, height=info.height, boxes=boxes, margin=margin, masks=masks)
    return _Found(plan, runs, refused, full_range)


def _ink_weights(run: RunEvidence, planned: Box, margin: int) -> np.ndarray | None:
    """Weights over the planned box: the run's ink grown by `margin` (blur, shadow, codec
    ringing), feathered over its outer pixels; None (the whole box) when the frames cannot
    say where the ink is."""
    mask = ink_mask(run)
    if mask is None:
        return None
    x1, y1, x2, y2 = planned
    rx1, ry1, rx2, ry2 = run.region
    over = np.zeros((y2 - y1, x2 - x1), dtype=np.uint8)
    ix1, iy1, ix2, iy2 = max(x1, rx1), max(y1, ry1), min(x2, rx2), min(y2, ry2)
    if ix2 <= ix1 or iy2 <= iy1:
        return None
    inside = mask[iy1 - ry1 : iy2 - ry1, ix1 - rx1 : ix2 - rx1]
    over[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] = inside
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    grown = cv2.dilate(over, kernel)
    feather = max(2, margin // 2)
    distance = cv2.distanceTransform(np.pad(grown, 1, mode="edge"), cv2.DIST_L2, 5)[1:-1, 1:-1]
    weights = np.clip((distance - 0.5) / feather, 0.0, 1.0).astype(np.float32)
    weights[grown == 0] = 0.0
    return weights


def _confirm_segments(
    result: Track,
    detections: list[list[Detection]],
    evidence: EvidenceCollector,
    boxes: list[Box | None],
    info: VideoInfo,
) -> tuple[list[tuple[Segment, RunEvidence]], list[dict[str, Any]]]:
    """Keep the tracked segments whose frames show an overlay (`boxes` of the others are
    cleared: those frames stay as decoded), each grown to all of its ink. Returns the kept
    segments with their evidence, and the refused ones with the reason."""
    from executor.engine.track import dilate_box

    runs: list[tuple[Segment, RunEvidence]] = []
    refused: list[dict[str, Any]] = []
    for segment in result.segments:
        scores = [d.score for i in range(segment.start, segment.end + 1) for d in detections[i]]
        score = sum(scores) / len(scores) if scores else 0.0
        run = evidence.run_for(segment.start, segment.end, segment.detected)
        if run is not None:
            # The run kept the box of its first frame (a fade's first frames give a looser
            # one); the segment's median box is the mark's.
            run.box = _within(segment.detected, run.region)
        verdict = confirm(run, score)
        if not verdict.accepted:
            logger.info(
                "frames {}-{}: mark at {} refused ({}): left as decoded",
                segment.start,
                segment.end,
                segment.detected,
                verdict.reason,
            )
            boxes[segment.start : segment.end + 1] = [None] * (segment.end + 1 - segment.start)
            refused.append(
                {
                    "start": segment.start,
                    "end": segment.end,
                    "box": list(segment.detected),
                    "reason": verdict.reason,
                }
            )
            continue
        if run is None:
            continue
        # The detector's box can fall short of the ink (a handle line, a faint logo): grow it
        # to every piece of the fixed overlay that touches it.
        extent = ink_extent(run)
        planned = segment.box
        if extent != run.box:
            run.box = _union(run.box, extent)
            planned = _union(planned, dilate_box(run.box, info.width, info.height))
            logger.debug(
                "frames {}-{}: box {} grown to the ink at {}",
                segment.start,
                segment.end,
                segment.detected,
                run.box,
            )
        # ... and its detections can miss the frames where the mark fades or has just come.
        first, last = reach(run, segment.start, segment.end, lambda i: boxes[i] is not None)
        if (first, last) != (segment.start, segment.end):
            logger.debug(
                "frames {}-{}: the mark shows in frames {}-{} too",
                segment.start,
                segment.end,
                first,
                last,
            )
            run.take_back(set(range(first, segment.start)) | set(range(segment.end + 1, last + 1)))
        boxes[first : last + 1] = [planned] * (last + 1 - first)
        runs.append((Segment(first, last, planned), run))
    return runs, refused


def _estimate_mattes(found: _Found, camera: CameraPath) -> dict[int, Matte]:
    """The matte of each accepted segment, by frame index: estimated from its own frames
    where the camera moves, else the same mark's matte from another segment, put where the
    mark sits (the mark keeps one look for the whole video)."""
    own = {
        id(run): estimate_matte(run, camera, limited_range=not found.full_range)
        for _, run in found.runs
    }
    donors = sorted(
        ((matte, run) for _, run in found.runs if (matte := own[id(run)]) is not None),
        key=lambda pair: -int((pair[0].gain < 1).sum()),
    )
    mattes: dict[int, Matte] = {}
    for segment, run in found.runs:
        matte, how = own[id(run)], "its own frames"
        if matte is None:
            matte = next(
                (m for d, d_run in donors if (m := reuse(d, d_run, run)) is not None), None
            )
            how = "another segment of the same mark"
        logger.debug(
            "frames {}-{}: {}",
            segment.start,
            segment.end,
            "no matte" if matte is None else f"matte over {matte.region} from {how}",
        )
        if matte is not None:
            mattes.update(dict.fromkeys(range(segment.start, segment.end + 1), matte))
    return mattes


def _within(box: Box, region: Box) -> Box:
    return (
        max(box[0], region[0]),
        max(box[1], region[1]),
        min(box[2], region[2]),
        min(box[3], region[3]),
    )


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _grow_share(box: Box, share: float, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    dx, dy = round((x2 - x1) * share), round((y2 - y1) * share)
    return max(0, x1 - dx), max(0, y1 - dy), min(width, x2 + dx), min(height, y2 + dy)


def _encode(
    src: Path,
    dst: Path,
    info: VideoInfo,
    plan: MarkPlan,
    painter: Inpainter,
    crf: int,
    preset: str,
    bar: _ProgressBar,
    should_cancel: ShouldCancel | None,
    mattes: Mapping[int, Matte],
) -> tuple[int, float]:
    """The last pass: repaint each batch, then encode it. Returns (frames, seconds filling).

    Three threads: one decodes, handing every frame to `painter.see` first; one repaints
    batch k+1; this one hands batch k to the encoder (FFmpeg decodes and encodes without the
    GIL), so the repaint costs little wall time on top of the encode."""
    total = max(1, info.frame_count)
    fill_seconds = 0.0

    def repaint(batch: list[Frame]) -> list[Frame]:
        nonlocal fill_seconds
        started = time.perf_counter()
        observed = _observe_marked(batch, plan, mattes)
        painter.repaint(batch, plan)  # fill, kept to the plan's masks where it has them
        _recover_under(batch, observed, mattes)
        fill_seconds += time.perf_counter() - started
        return batch

    def decoded() -> Iterator[Frame]:
        try:
            for frame in _frames(src, copy=True):
                painter.see(frame)
                yield frame
        finally:
            painter.seen_all()  # also when decoding failed: nothing waits for a lost frame

    def repainted() -> Iterator[list[Frame]]:
        # The decoder runs ahead on its own thread, by as many frames as the painter needs
        # to have seen before it repaints (sources taken from this decode); a batch's fill
        # waits only for its own sources.
        depth = painter.lookahead() + 2 * BATCH
        batch: list[Frame] = []
        with Ahead(decoded, depth=depth, name="decode") as frames:
            for frame in frames:
                batch.append(frame)
                if len(batch) == BATCH:
                    yield repaint(batch)
                    batch = []
        if batch:
            yield repaint(batch)

    with VideoWriter.like(info, dst, crf=crf, preset=preset) as writer:
        with Ahead(repainted, depth=2, name="repaint") as batches:
            for batch in batches:
                check_cancel(should_cancel)
                for frame in batch:
                    writer.write(frame)
                bar.update("encode", writer.frames_written / total)
            check_cancel(should_cancel)
        frames = writer.frames_written
    return frames, fill_seconds


def _observe_marked(
    batch: list[Frame], plan: MarkPlan, mattes: Mapping[int, Matte]
) -> dict[int, tuple[Box, np.ndarray]]:
    """The decoded pixels of each box that has a matte, before the inpainter fills it."""
    observed = {}
    for frame in batch:
        box = plan.box(frame.index)
        if box is not None and frame.index in mattes:
            observed[frame.index] = frame.read_region(box)
    return observed


def _recover_under(
    batch: list[Frame],
    observed: Mapping[int, tuple[Box, np.ndarray]],
    mattes: Mapping[int, Matte],
) -> None:
    """Where the mark's matte is known, the picture under it comes from inverting the blend
    (mixed with the inpainter's fill by their expected errors)."""
    for frame in batch:
        if frame.index not in observed:
            continue
        region, before = observed[frame.index]
        _, filled = frame.read_region(region)
        frame.write_region(region, recover(before, filled, region, mattes[frame.index]))


def _frames(src: Path, *, copy: bool = False) -> Iterator[Frame]:
    with VideoReader(src, copy=copy) as reader:
        yield from reader


class _ProgressBar:
    """Maps each stage's own 0..1 onto one rising 0..100 percent."""

    def __init__(self, callback: ProgressCallback | None, *, detecting: bool) -> None:
        self.callback = callback
        weights = dict(_WEIGHTS)
        if not detecting:
            weights.pop("detect")
        total = sum(weights.values())
        self.spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for stage, weight in weights.items():
            self.spans[stage] = (start, weight / total * 100.0)
            start += weight / total * 100.0
        self.last = 0.0

    def update(self, stage: str, fraction: float) -> None:
        start, span = self.spans[stage]
        percent = min(100.0, start + span * min(1.0, max(0.0, fraction)))
        if percent > self.last or (percent == self.last == 0.0):
            self.last = percent
            if self.callback is not None:
                self.callback(percent, stage)

    def finish(self) -> None:
        self.last = 100.0
        if self.callback is not None:
            self.callback(100.0, "done")


__all__ = [
    "Cancelled",
    "DetectorUnavailable",
    "InpainterError",
    "Report",
    "load_boxes",
    "load_detector",
    "remove_watermark",
]
