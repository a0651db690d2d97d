"""One synthetic clip: the watermarked video, the clean video (same encode) and the boxes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from executor.engine.frames import Box
from executor.engine.writer import VideoWriter
from tools.synth.audio import write_soundtrack
from tools.synth.background import Scene
from tools.synth.mark import MarkSprite, make_mark
from tools.synth.schedule import jump_schedule


@dataclass(frozen=True)
class ClipSpec:
    width: int = 640
    height: int = 360
    seconds: float = 3.0
    fps: int = 30
    audio: bool = False
    crf: int = 18
    preset: str = "veryfast"

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))


@dataclass(frozen=True)
class SynthFrame:
    index: int
    clean: np.ndarray
    marked: np.ndarray
    box: Box | None  # x1, y1, x2, y2 (exclusive) where the mark changed pixels


@dataclass(frozen=True)
class ClipFiles:
    marked: Path
    clean: Path
    boxes: Path
    meta: Path
    frames: int
    seconds: float


def _streams(seed: int, index: int) -> list[np.random.Generator]:
    """Independent generators for scene, mark, schedule and audio: changing how one part
    draws its numbers (or adding --audio) never changes the others."""
    children = np.random.SeedSequence([seed, index]).spawn(4)
    return [np.random.default_rng(child) for child in children]


def render_frames(seed: int, index: int, spec: ClipSpec) -> Iterator[SynthFrame]:
    """Frames of clip `index` for `seed`, one at a time (same seed, same pixels)."""
    scene_rng, mark_rng, schedule_rng, _ = _streams(seed, index)
    scene = Scene(scene_rng, spec.width, spec.height, spec.fps)
    sprite = make_mark(mark_rng, spec.width)
    positions = jump_schedule(
        schedule_rng,
        frames=spec.frames,
        fps=spec.fps,
        frame_size=(spec.width, spec.height),
        mark_size=sprite.size,
    )
    for i, position in enumerate(positions):
        clean = scene.render(i)
        marked = clean.copy()
        box = None
        if position is not None:
            sprite.composite(marked, *position)
            box = _box(sprite, position)
        yield SynthFrame(i, clean, marked, box)


def mark_of(seed: int, index: int, spec: ClipSpec) -> MarkSprite:
    """The sprite clip `index` uses (for its metadata and for tests)."""
    return make_mark(_streams(seed, index)[1], spec.width)


def generate_clip(out_dir: Path, seed: int, index: int, spec: ClipSpec) -> ClipFiles:
    """Write `<name>_marked.mp4`, `<name>_clean.mp4`, `<name>_boxes.json`, `<name>_meta.json`."""
    started = time.perf_counter()
    name = f"clip_{index:05d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    soundtrack = out_dir / f".{name}_audio.m4a"
    if spec.audio:
        write_soundtrack(_streams(seed, index)[3], soundtrack, spec.seconds)
    files = ClipFiles(
        marked=out_dir / f"{name}_marked.mp4",
        clean=out_dir / f"{name}_clean.mp4",
        boxes=out_dir / f"{name}_boxes.json",
        meta=out_dir / f"{name}_meta.json",
        frames=spec.frames,
        seconds=0.0,
    )
    boxes: dict[str, list[int] | None] = {}
    try:
        with (
            _writer(files.marked, spec, soundtrack) as marked,
            _writer(files.clean, spec, soundtrack) as clean,
        ):
            for frame in render_frames(seed, index, spec):
                # pts counts frames: the writer's time base is 1/fps.
                marked.write_rgb(frame.marked, pts=frame.index)
                clean.write_rgb(frame.clean, pts=frame.index)
                boxes[str(frame.index)] = list(frame.box) if frame.box else None
    finally:
        soundtrack.unlink(missing_ok=True)
    files.boxes.write_text(json.dumps(boxes))
    sprite = mark_of(seed, index, spec)
    meta = {
        "seed": seed,
        "index": index,
        "width": spec.width,
        "height": spec.height,
        "fps": spec.fps,
        "frames": spec.frames,
        "audio": spec.audio,
        "crf": spec.crf,
        "mark_size": list(sprite.size),
        "font": sprite.font,
        "box_format": "frame index -> [x1, y1, x2, y2] (x2, y2 exclusive) or null",
    }
    files.meta.write_text(json.dumps(meta, indent=2))
    elapsed = time.perf_counter() - started
    return ClipFiles(files.marked, files.clean, files.boxes, files.meta, spec.frames, elapsed)


def _writer(path: Path, spec: ClipSpec, soundtrack: Path) -> VideoWriter:
    return VideoWriter(
        path,
        width=spec.width,
        height=spec.height,
        frame_rate=Fraction(spec.fps),
        crf=spec.crf,
        preset=spec.preset,
        audio_from=soundtrack if spec.audio else None,
    )


def _box(sprite: MarkSprite, position: tuple[int, int]) -> Box:
    width, height = sprite.size
    x, y = position
    return x, y, x + width, y + height
