"""The wide "sora" mark family: reproducible, exactly described by its alpha maps, boxed
right (two lines, frame edges), distractors never boxed, and a held-out split that never
leaks into training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tools.synth import ClipSpec, Look, generate_clip, heldout_clips, render_frames, style_of
from tools.synth.clip import mark_of
from tools.synth.fonts import installed_fonts
from tools.synth.logos import LOGO_NAMES
from tools.synth.mark import MarkSprite, composite, make_sora_mark
from tools.synth.photos import installed_photos
from tools.synth.schedule import wild_schedule
from tools.synth.split import (
    EVAL_SEED,
    HELDOUT_LOGOS,
    font_is_heldout,
    photo_is_heldout,
    pool,
)

SPEC = ClipSpec(width=256, height=144, seconds=2.0, fps=6, family="sora")


def _mark(seed: int, **look: Any) -> MarkSprite:
    side = pool("train")
    return make_sora_mark(
        np.random.default_rng(seed),
        640,
        logos=list(side.logos),
        fonts=list(side.fonts),
        look=Look(**look),
    )


def test_family_is_reproducible_from_the_seed() -> None:
    first, second = list(render_frames(7, 3, SPEC)), list(render_frames(7, 3, SPEC))
    assert [f.box for f in first] == [f.box for f in second]
    assert all(np.array_equal(a.marked, b.marked) for a, b in zip(first, second, strict=True))
    assert style_of(7, 3, SPEC) == style_of(7, 3, SPEC)
    styles = [json.dumps(style_of(7, i, SPEC), sort_keys=True) for i in range(6)]
    assert len(set(styles)) == 6


def test_styles_cover_the_family() -> None:
    styles = [style_of(0, i, SPEC) for i in range(40)]
    assert len({s["logo"] for s in styles}) >= 4
    assert len({s["font"] for s in styles}) >= 10
    assert {s["handle"] is None for s in styles} == {True, False}
    assert {s["filled"] for s in styles} == {True, False}
    opacities = [s["opacity"] for s in styles]
    assert min(opacities) < 0.5 and max(opacities) > 0.75
    assert all(0 <= s["blur"] <= 1.2 for s in styles)
    for s in styles:
        assert set(s) >= {"logo", "filled", "handle", "font", "opacity", "blur", "shadow"}
        assert set(s) >= {"edge", "fade", "background", "negatives"}
        assert s["logo"] not in HELDOUT_LOGOS


def test_mark_width_is_6_to_18_percent_of_the_frame() -> None:
    for seed in range(12):
        width, _ = mark_of(seed, 0, ClipSpec(width=640, height=360, family="sora")).size
        assert 0.05 * 640 <= width <= 0.19 * 640


def test_handle_line_box_covers_both_lines() -> None:
    sprite = _mark(1, handle=True)
    bare = _mark(1, handle=False)
    assert sprite.style is not None and bare.style is not None
    assert sprite.style.handle and bare.style.handle is None
    used = (sprite.ink > 0) | (sprite.shadow > 0)
    rows = np.flatnonzero(used.any(axis=1))
    # Two lines: ink at the top and at the bottom of the sprite, a blank band between.
    assert rows[0] == 0 and rows[-1] == used.shape[0] - 1
    assert not used.any(axis=1).all(), "expected a gap between 'Sora' and the @handle line"
    ratio_with = sprite.size[1] / sprite.size[0]
    ratio_without = bare.size[1] / bare.size[0]
    assert ratio_with > ratio_without
    frame = np.full((200, 300, 3), 40, np.uint8)
    before = frame.copy()
    sprite.composite(frame, 20, 30)
    box = sprite.visible_box(20, 30, (300, 200))
    changed = (frame != before).any(axis=-1)
    ys, xs = np.nonzero(changed)
    assert box == (20, 30, 20 + sprite.size[0], 30 + sprite.size[1])
    assert (xs.min(), ys.min()) >= (box[0], box[1])
    assert (xs.max() < box[2]) and (ys.max() < box[3])
    assert ys.max() - ys.min() >= 0.8 * (box[3] - box[1])


@pytest.mark.parametrize("x,y", [(-15, 10), (250, 120), (-5, -7), (0, 0)])
def test_mark_against_or_over_the_edge_is_clipped_and_boxed(x: int, y: int) -> None:
    sprite = _mark(2)
    frame = np.full((144, 256, 3), 60, np.uint8)
    before = frame.copy()
    sprite.composite(frame, x, y)
    box = sprite.visible_box(x, y, (256, 144))
    changed = (frame != before).any(axis=-1)
    assert box is not None
    ys, xs = np.nonzero(changed)
    x1, y1, x2, y2 = box
    assert 0 <= x1 < x2 <= 256 and 0 <= y1 < y2 <= 144
    # Tight: the changed pixels reach (almost) all four sides of the box.
    assert xs.min() - x1 <= 2 and x2 - 1 - xs.max() <= 2
    assert ys.min() - y1 <= 2 and y2 - 1 - ys.max() <= 2


def test_schedule_puts_a_stay_on_the_edge_when_asked() -> None:
    placements, touched = wild_schedule(
        np.random.default_rng(0),
        frames=60,
        fps=10,
        frame_size=(256, 144),
        mark_size=(40, 14),
        edge=True,
    )
    assert touched
    first = next(p for p in placements if p is not None)
    x, y, _ = first
    assert x <= 0 or y <= 0 or x + 40 >= 256 or y + 14 >= 144
    _, touched = wild_schedule(
        np.random.default_rng(0),
        frames=60,
        fps=10,
        frame_size=(256, 144),
        mark_size=(40, 14),
        edge=False,
    )
    assert not touched


def test_composite_follows_the_formula_with_known_alpha() -> None:
    ink = np.array([[0.0, 0.5], [0.25, 1.0]], np.float32)
    shadow = np.array([[0.5, 0.0], [0.2, 0.0]], np.float32)
    frame = np.array([[[100, 0, 255], [100, 0, 255]], [[100, 0, 255], [100, 0, 255]]], np.uint8)
    region = frame.astype(np.float32)
    region *= 1 - shadow[..., None]
    region += (255 - region) * ink[..., None]
    expected = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    composite(frame, ink, shadow, 0, 0)
    assert np.array_equal(frame, expected)
    assert frame[0, 0].tolist() == [50, 0, 128]  # shadow only: darker by half
    assert frame[1, 1].tolist() == [255, 255, 255]  # full ink: white
    # The sprite's maps describe the rendered clip exactly (no encode involved).
    frame_ = next(f for f in render_frames(4, 1, SPEC) if f.box is not None and f.strength == 1)
    sprite = mark_of(4, 1, SPEC)
    redo = frame_.clean.copy()
    x1, y1, x2, y2 = frame_.box  # type: ignore[misc]
    used = (sprite.ink > 0) | (sprite.shadow > 0)
    rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
    if x1 > 0 and y1 > 0:  # not clipped: the box's corner is the sprite's
        sprite.composite(redo, x1 - int(cols[0]), y1 - int(rows[0]))
        assert np.array_equal(redo, frame_.marked)


def test_distractors_are_drawn_but_never_boxed() -> None:
    spec = ClipSpec(
        width=256,
        height=144,
        seconds=3.0,
        fps=4,
        family="sora",
        look=Look(mark=False, negatives=("text", "subtitle", "logo", "flare")),
    )
    frames = list(render_frames(3, 0, spec))
    assert all(f.box is None for f in frames)
    assert any(f.distractors for f in frames)
    assert all(np.array_equal(f.clean, f.marked) for f in frames)
    style = style_of(3, 0, spec)
    assert style["mark"] is False and style["negatives"] == ["text", "subtitle", "logo", "flare"]


def test_heldout_split_never_overlaps_training() -> None:
    train, held = pool("train"), pool("heldout")
    assert not {p.path for p in train.photos} & {p.path for p in held.photos}
    assert not {p.key for p in train.photos} & {p.key for p in held.photos}
    assert not {f.name for f in train.fonts} & {f.name for f in held.fonts}
    assert not set(train.logos) & set(HELDOUT_LOGOS)
    assert set(HELDOUT_LOGOS) <= set(held.logos) and len(set(train.logos)) >= 5
    assert set(train.logos) | set(held.logos) == set(LOGO_NAMES)
    assert not any(photo_is_heldout(p) for p in train.photos)
    assert not any(font_is_heldout(f) for f in train.fonts)
    assert not any(p.package == "mate-backgrounds" for p in train.photos)
    assert not any(f.family.startswith(("Open Sans", "URW Bookman")) for f in train.fonts)
    if installed_fonts():
        assert held.fonts and train.fonts


def test_training_clips_use_only_the_training_pool() -> None:
    train = pool("train")
    fonts, photos = {f.name for f in train.fonts}, {str(p.path) for p in train.photos}
    for index in range(25):
        style = style_of(0, index, SPEC)
        assert style["logo"] in train.logos
        assert style["font"] in fonts or not fonts
        assert style["photo"] is None or style["photo"] in photos


def test_heldout_clips_cover_the_cases() -> None:
    clips = heldout_clips(20)
    assert len(clips) == 20 and all(c.seed >= EVAL_SEED for c in clips)
    assert all(c.spec.split == "heldout" and c.spec.family == "sora" for c in clips)
    names = {c.name for c in clips}
    assert {"edge", "heldout-logo", "no-mark-text-subtitles", "audio-small"} <= names
    assert {"opacity-low", "opacity-mid", "opacity-high"} <= names
    assert any(c.spec.height > c.spec.width for c in clips)
    assert any(c.spec.audio for c in clips)
    assert len({(c.seed, c.index) for c in clips}) == 20
    assert all(c.spec.look.mark is (c.name != "no-mark-text-subtitles") for c in clips)
    with pytest.raises(ValueError):
        heldout_clips(2, seed=5)


def test_heldout_clip_renders_with_its_style(tmp_path: Path) -> None:
    clip = next(c for c in heldout_clips(8) if c.name == "heldout-logo")
    spec = ClipSpec(width=192, height=108, seconds=0.5, fps=12, family="sora", split="heldout",
                    look=clip.spec.look)  # fmt: skip
    files = generate_clip(tmp_path, clip.seed, clip.index, spec)
    meta = json.loads(files.meta.read_text())
    assert meta["style"]["logo"] == "trefoil" and meta["style"]["split"] == "heldout"
    assert set(meta["style"]) >= {"handle", "font", "opacity", "edge", "fade", "background"}


@pytest.mark.skipif(not installed_photos(), reason="no wallpaper photos installed")
def test_photo_background_renders() -> None:
    spec = ClipSpec(width=192, height=108, seconds=1.0, fps=4, family="sora",
                    look=Look(background="photo"))  # fmt: skip
    frames = list(render_frames(1, 0, spec))
    style = style_of(1, 0, spec)
    assert style["background"] == "photo" and style["photo"]
    assert frames[0].clean.shape == (108, 192, 3)
    assert float(frames[0].clean.std()) > 1.0  # a picture, not a flat fill
    assert not np.array_equal(frames[0].clean, frames[-1].clean) or len(frames) == 1
