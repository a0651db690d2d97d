"""The synthetic generator is reproducible and its boxes say where the mark was drawn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from executor.engine.video import VideoReader, probe
from tools.synth import ClipSpec, generate_clip, render_frames
from tools.synth.clip import mark_of

SPEC = ClipSpec(width=256, height=144, seconds=2.5, fps=24)


def test_same_seed_gives_same_boxes_and_pixels() -> None:
    first = list(render_frames(3, 0, SPEC))
    second = list(render_frames(3, 0, SPEC))
    assert [f.box for f in first] == [f.box for f in second]
    assert all(np.array_equal(a.marked, b.marked) for a, b in zip(first, second, strict=True))


def test_different_seeds_give_different_clips() -> None:
    a = next(render_frames(1, 0, SPEC))
    b = next(render_frames(2, 0, SPEC))
    assert not np.array_equal(a.clean, b.clean)


def test_boxes_lie_inside_the_frame() -> None:
    for seed in range(4):
        for frame in render_frames(seed, 0, SPEC):
            if frame.box is not None:
                x1, y1, x2, y2 = frame.box
                assert 0 <= x1 < x2 <= SPEC.width and 0 <= y1 < y2 <= SPEC.height


def test_mark_changes_pixels_only_inside_its_box_and_fills_it() -> None:
    for frame in render_frames(5, 0, SPEC):
        changed = (frame.clean != frame.marked).any(axis=-1)
        if frame.box is None:
            assert not changed.any()
            continue
        x1, y1, x2, y2 = frame.box
        inside = np.zeros_like(changed)
        inside[y1:y2, x1:x2] = True
        assert not (changed & ~inside).any()
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        # The box is tight: the changed pixels reach (almost) all four of its edges.
        assert rows[0] - y1 <= 2 and y2 - 1 - rows[-1] <= 2
        assert cols[0] - x1 <= 2 and x2 - 1 - cols[-1] <= 2


def test_mark_is_8_to_15_percent_of_the_frame_width() -> None:
    for index in range(8):
        width, _ = mark_of(0, index, ClipSpec(width=640, height=360)).size
        assert 0.07 * 640 <= width <= 0.16 * 640


def test_mark_stays_then_jumps() -> None:
    spec = ClipSpec(width=256, height=144, seconds=12, fps=10)
    boxes = [frame.box for frame in render_frames(0, 0, spec)]
    runs = [1]
    for previous, current in zip(boxes, boxes[1:], strict=False):
        if current == previous:
            runs[-1] += 1
        else:
            runs.append(1)
    assert len(runs) >= 3
    assert all(run <= 4 * spec.fps for run in runs)
    assert all(run >= spec.fps for run in runs[:-1])


def test_generated_clip_files_match_the_spec(tmp_path: Path) -> None:
    spec = ClipSpec(width=192, height=108, seconds=1.0, fps=24, audio=True)
    files = generate_clip(tmp_path, seed=1, index=0, spec=spec)
    marked, clean = probe(files.marked), probe(files.clean)
    assert (marked.width, marked.height, marked.frame_count) == (192, 108, 24)
    assert (clean.width, clean.height, clean.frame_count) == (192, 108, 24)
    assert marked.has_audio and clean.has_audio
    boxes = json.loads(files.boxes.read_text())
    assert sorted(int(k) for k in boxes) == list(range(24))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_encoded_clips_differ_where_the_boxes_say(tmp_path: Path) -> None:
    spec = ClipSpec(width=192, height=108, seconds=1.0, fps=24)
    files = generate_clip(tmp_path, seed=4, index=0, spec=spec)
    boxes = json.loads(files.boxes.read_text())
    with VideoReader(files.marked) as marked, VideoReader(files.clean) as clean:
        for a, b in zip(marked, clean, strict=True):
            diff = np.abs(a.y.astype(int) - b.y.astype(int))
            box = boxes[str(a.index)]
            if box is None:
                continue
            x1, y1, x2, y2 = box
            assert diff[y1:y2, x1:x2].mean() > 3 * max(diff.mean(), 0.05) or diff.mean() < 1


def test_cli_writes_clips_and_explains_its_flags(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "tools.synth"]
    help_text = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True)
    for flag in ("--count", "--seed", "--width", "--height", "--seconds", "--audio"):
        assert flag in help_text.stdout
    args = ["--count", "2", "--seed", "9", "--width", "128", "--height", "72", "--seconds", "1"]
    result = subprocess.run(
        [*run, str(tmp_path), *args], capture_output=True, text=True, check=True
    )
    assert "[2/2]" in result.stderr
    assert len(list(tmp_path.glob("clip_*_marked.mp4"))) == 2
