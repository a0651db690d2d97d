"""bench/quality.py's measuring rules, on boxes and tiny pictures (no video)."""

from __future__ import annotations

import math
from pathlib import Path

import av
import cv2
import numpy as np

from bench.quality import (
    Result,
    SheetRow,
    covers,
    gap,
    goals,
    group_table,
    grow,
    plain,
    select_clips,
    sheet_frame,
    write_perfect,
    write_sheet,
)
from executor.engine.reader import VideoReader


def test_grow_clips_to_the_frame() -> None:
    assert grow((2, 3, 10, 12), 4, 12, 14) == (0, 0, 12, 14)
    assert grow((5, 5, 8, 8), 2, 100, 100) == (3, 3, 10, 10)


def test_covers_needs_the_whole_inner_box() -> None:
    assert covers((0, 0, 10, 10), (2, 2, 10, 10))
    assert not covers((0, 0, 10, 10), (2, 2, 11, 10))
    assert not covers(None, (2, 2, 3, 3))


def test_sheet_frame_is_the_middle_of_the_longest_stay() -> None:
    a, b = (0, 0, 4, 4), (10, 10, 14, 14)
    assert sheet_frame([None, a, a, None, b, b, b, b, b]) == 6
    assert sheet_frame([None, None]) is None


def test_gap_of_two_perfect_copies_is_zero() -> None:
    assert gap(math.inf, math.inf) == 0.0
    assert gap(50.0, 49.5) == 0.5


def test_plain_turns_nan_and_inf_into_none() -> None:
    assert plain({"a": [math.nan, 1.0], "b": math.inf}) == {"a": [None, 1.0], "b": None}


def _result(name: str, *, marked: int, removed: int, engine_db: float) -> Result:
    result = Result(name, "64x64", [], {}, ["all", "handle:yes"], marked=marked, unmarked=10)
    result.visible = marked
    result.frames = marked + 10
    result.removed = {"engine": removed, "fill": removed}
    result.close = {"engine": removed, "fill": removed}
    result.changed = {"engine": 0, "fill": 0}
    result.changed_raw = {"engine": 0, "fill": 0}
    result.repainted_unmarked = {"engine": 0, "fill": 0}
    result.psnr_in = dict.fromkeys(("engine", "fill", "nothing", "telea", "ceiling"), engine_db)
    result.psnr_in.update(nothing=25.0, telea=30.0, ceiling=48.0)
    result.psnr_out = {"engine": 45.0, "ceiling": 45.2}
    result.flicker = {"engine": 1.0, "fill": 1.0, "clean": 1.0}
    result.engine_fps, result.copy_fps = 10.0, 40.0
    return result


def test_goals_hold_on_every_clip_not_just_the_average() -> None:
    good = _result("good", marked=100, removed=100, engine_db=40.0)
    weak = _result("weak", marked=100, removed=98, engine_db=40.0)
    met = goals([good, weak])
    removed = next(goal for goal in met if goal.startswith("mark removed"))
    assert not met[removed] and "weak" in removed
    assert all(ok for goal, ok in met.items() if goal.startswith("masked PSNR >= 35"))
    assert "| handle:yes | 2 | 99.0% / 99.0% |" in group_table([good, weak])


def test_quick_clips_are_small_and_cover_the_no_mark_case() -> None:
    clips = select_clips(4, 1.0, quick=True, classic=False)
    assert len(clips) == 4
    assert all(max(c.spec.width, c.spec.height) == 640 for c in clips)
    assert any("no-mark" in c.tags for c in clips)


def test_contact_sheet_is_a_png_with_one_row_per_clip(tmp_path: Path) -> None:
    picture = np.zeros((90, 160, 3), dtype=np.uint8)
    pictures = {name: picture for name in ("marked", "engine", "fill", "clean")}
    rows = [SheetRow("a", (40, 30, 80, 50), pictures, (38, 28, 82, 52))] * 2
    path = tmp_path / "sheet.png"
    write_sheet(rows, path)
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 2 * 160


def _grey_clip(path: Path, squares: list[bool]) -> None:
    """96x96 grey frames, a white square at (32..64) in the frames `squares` marks."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = 96, 96, "yuv420p"
        for square in squares:
            rgb = np.full((96, 96, 3), 100, np.uint8)
            if square:
                rgb[32:64, 32:64] = 250
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))


def test_the_perfect_remover_takes_the_true_boxes_from_the_clean_clip(tmp_path: Path) -> None:
    _grey_clip(tmp_path / "marked.mp4", [True] * 4)
    _grey_clip(tmp_path / "clean.mp4", [False] * 4)
    boxes = [(32, 32, 64, 64), (32, 32, 64, 64), None, None]
    write_perfect(tmp_path / "marked.mp4", tmp_path / "clean.mp4", boxes, tmp_path / "p.mp4")
    with VideoReader(tmp_path / "p.mp4") as reader:
        inside = [float(frame.y[40:56, 40:56].mean()) for frame in reader]
    assert inside[0] < 120 and inside[1] < 120  # the clean grey (limited-range luma ~102)
    assert inside[2] > 200 and inside[3] > 200  # the mark where no box says it is
