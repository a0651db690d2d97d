"""One synthetic clip: the watermarked video, the clean video (same encode) and the boxes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from executor.engine.frames import Box
from executor.engine.writer import VideoWriter
from tools.synth.audio import write_soundtrack
from tools.synth.background import Scene
from tools.synth.mark import MarkSprite, make_mark, make_sora_mark
from tools.synth.negatives import Distractors
from tools.synth.photos import PhotoScene
from tools.synth.schedule import Placement, jump_schedule, wild_schedule
from tools.synth.spec import NEGATIVE_KINDS, ClipSpec, Look
from tools.synth.split import pool

__all__ = [
    "ClipFiles",
    "ClipSpec",
    "Look",
    "SynthFrame",
    "generate_clip",
    "mark_of",
    "render_frames",
]

PHOTO_SHARE = 0.65  # "sora" clips over a real photo (when photos are installed)
NO_MARK_SHARE = 0.08  # "sora" clips with distractors only
NEGATIVE_CHANCE = {"text": 0.35, "subtitle": 0.25, "logo": 0.25, "flare": 0.25}
FADE_SHARE = 0.35


@dataclass(frozen=True)
class SynthFrame:
    index: int
    clean: np.ndarray
    marked: np.ndarray
    box: Box | None  # x1, y1, x2, y2 (exclusive) where the mark changed pixels
    strength: float = 1.0  # the mark's fade (1 when fully shown)
    distractors: tuple[Box, ...] = field(default=())  # where distractors were drawn


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


def _wild_streams(seed: int, index: int) -> list[np.random.Generator]:
    """The "sora" family's generators: the first four as _streams, then style choices and
    distractors (spawn keys children by position, so the first four are the same)."""
    children = np.random.SeedSequence([seed, index]).spawn(6)
    return [np.random.default_rng(child) for child in children]


@dataclass
class _Plan:
    """Everything a "sora" clip decides before its first frame."""

    scene: Scene | PhotoScene
    sprite: MarkSprite
    placements: list[Placement | None]
    distractors: Distractors | None
    style: dict[str, Any]


def _plan(seed: int, index: int, spec: ClipSpec) -> _Plan:
    scene_rng, mark_rng, schedule_rng, _, style_rng, negative_rng = _wild_streams(seed, index)
    look = spec.look
    side = pool(spec.split)
    background = look.background or ("photo" if style_rng.random() < PHOTO_SHARE else "procedural")
    if background == "photo" and not side.photos:
        logger.warning("no wallpaper photos installed: a procedural scene instead")
        background = "procedural"
    scene: Scene | PhotoScene
    if background == "photo":
        scene = PhotoScene(scene_rng, spec.width, spec.height, spec.fps, list(side.photos))
    else:
        scene = Scene(scene_rng, spec.width, spec.height, spec.fps)
    sprite = make_sora_mark(
        mark_rng, spec.width, logos=list(side.logos), fonts=list(side.fonts), look=look
    )
    has_mark = style_rng.random() >= NO_MARK_SHARE
    if look.mark is not None:
        has_mark = look.mark
    fade = look.fade if look.fade is not None else bool(style_rng.random() < FADE_SHARE)
    placements: list[Placement | None] = [None] * spec.frames
    edge = False
    if has_mark:
        placements, edge = wild_schedule(
            schedule_rng,
            frames=spec.frames,
            fps=spec.fps,
            frame_size=(spec.width, spec.height),
            mark_size=sprite.size,
            edge=look.edge,
            fade=fade,
        )
    if look.negatives is not None:
        kinds = tuple(look.negatives)
    else:
        kinds = tuple(k for k in NEGATIVE_KINDS if style_rng.random() < NEGATIVE_CHANCE[k])
        if not has_mark and not kinds:
            kinds = (NEGATIVE_KINDS[int(style_rng.integers(len(NEGATIVE_KINDS)))],)
    distractors = None
    if kinds:
        distractors = Distractors(
            negative_rng,
            kinds,
            width=spec.width,
            height=spec.height,
            fps=spec.fps,
            frames=spec.frames,
            fonts=list(side.fonts),
            logos=list(side.logos),
        )
    assert sprite.style is not None
    style = {
        **sprite.style.as_dict(),
        "mark": has_mark,
        "edge": edge,
        "fade": fade and has_mark,
        "background": background,
        "photo": str(scene.photo.path) if isinstance(scene, PhotoScene) else None,
        "negatives": list(kinds),
        "family": spec.family,
        "split": spec.split,
    }
    return _Plan(scene, sprite, placements, distractors, style)


def render_frames(seed: int, index: int, spec: ClipSpec) -> Iterator[SynthFrame]:
    """Frames of clip `index` for `seed`, one at a time (same seed, same pixels)."""
    if spec.family == "sora":
        yield from _render_wild(seed, index, spec)
        return
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


def _render_wild(seed: int, index: int, spec: ClipSpec) -> Iterator[SynthFrame]:
    plan = _plan(seed, index, spec)
    frame_size = (spec.width, spec.height)
    for i, placement in enumerate(plan.placements):
        clean = plan.scene.render(i)
        distractors = tuple(plan.distractors.draw(clean, i)) if plan.distractors else ()
        marked = clean.copy()
        box, strength = None, 0.0
        if placement is not None:
            x, y, strength = placement
            plan.sprite.composite(marked, x, y, strength)
            box = plan.sprite.visible_box(x, y, frame_size)
        yield SynthFrame(i, clean, marked, box, strength, distractors)


def mark_of(seed: int, index: int, spec: ClipSpec) -> MarkSprite:
    """The sprite clip `index` uses (for its metadata and for tests)."""
    if spec.family == "sora":
        return _plan(seed, index, spec).sprite
    return make_mark(_streams(seed, index)[1], spec.width)


def style_of(seed: int, index: int, spec: ClipSpec) -> dict[str, Any]:
    """The clip's style as recorded in its meta json under "style"."""
    if spec.family == "sora":
        return _plan(seed, index, spec).style
    sprite = mark_of(seed, index, spec)
    assert sprite.style is not None
    return {
        **sprite.style.as_dict(),
        "mark": True,
        "edge": False,
        "fade": False,
        "background": "procedural",
        "photo": None,
        "negatives": [],
        "family": spec.family,
        "split": spec.split,
    }


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
        "style": style_of(seed, index, spec),
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
