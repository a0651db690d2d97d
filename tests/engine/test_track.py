"""Tracking turns noisy per-frame detections into one steady box per position segment."""

from __future__ import annotations

from executor.engine.detect import Detection
from executor.engine.frames import Box
from executor.engine.track import track

A: Box = (100, 50, 200, 80)  # 100 x 30
B: Box = (400, 300, 500, 330)
W, H, FPS = 640, 360, 30.0


def dets(*boxes: Box | None) -> list[list[Detection]]:
    return [[Detection(box, 0.9)] if box else [] for box in boxes]


def run(detections: list[list[Detection]]) -> list[Box | None]:
    return track(detections, width=W, height=H, fps=FPS, margin=0, min_margin=0).boxes


def test_a_missed_frame_inside_a_segment_is_filled() -> None:
    boxes = run(dets(*[A] * 10, None, None, *[A] * 10))
    assert boxes == [A] * 22


def test_an_isolated_false_positive_is_dropped() -> None:
    boxes = run(dets(*[A] * 10, *[None] * 10) + [[Detection(B, 0.95)]] + dets(*[None] * 20))
    assert boxes[:10] == [A] * 10
    assert all(box is None for box in boxes[12:])


def test_a_false_positive_beside_the_mark_does_not_break_its_segment() -> None:
    detections = dets(*[A] * 20)
    detections[7].append(Detection(B, 0.99))
    assert run(detections) == [A] * 20


def test_a_jump_splits_segments_where_it_happens() -> None:
    result = track(dets(*[A] * 15, *[B] * 15), width=W, height=H, fps=FPS, margin=0, min_margin=0)
    assert [(s.start, s.end, s.detected) for s in result.segments] == [(0, 14, A), (15, 29, B)]
    assert result.boxes == [A] * 15 + [B] * 15


def test_a_short_gap_at_a_jump_is_split_between_the_two_positions() -> None:
    boxes = run(dets(*[A] * 15, None, None, None, None, *[B] * 15))
    assert boxes == [A] * 17 + [B] * 17


def test_short_gaps_at_the_ends_of_the_video_are_filled() -> None:
    assert run(dets(None, None, *[A] * 20, None)) == [A] * 23


def test_a_long_absence_stays_empty() -> None:
    boxes = run(dets(*[A] * 15, *[None] * 60, *[B] * 15))
    assert boxes == [A] * 15 + [None] * 60 + [B] * 15


def test_jitter_is_smoothed_to_the_median_box() -> None:
    jittered = [(100 + d, 50 - d, 200 + d, 80 - d) for d in (0, 1, -1, 2, 0, -2, 1, 0, 0, -1)]
    result = track(dets(*jittered), width=W, height=H, fps=FPS, margin=0, min_margin=0)
    assert len(result.segments) == 1
    assert result.boxes == [A] * 10


def test_boxes_are_dilated_by_the_margin_and_at_least_min_margin_pixels() -> None:
    result = track(dets(*[A] * 10), width=W, height=H, fps=FPS, margin=0.1, min_margin=4)
    # 10% of 100 px = 10 px left/right; 10% of 30 px = 3 px < 4 px top/bottom.
    assert result.boxes[0] == (90, 46, 210, 84)
    assert result.segments[0].detected == A


def test_dilated_boxes_are_clipped_to_the_frame() -> None:
    corner: Box = (2, 1, 60, 20)
    edge: Box = (600, 340, 640, 360)
    result = track(dets(*[corner] * 10, *[edge] * 10), width=W, height=H, fps=FPS, margin=0.2)
    assert result.boxes[0] == (0, 0, 72, 24)
    assert result.boxes[-1] == (592, 336, 640, 360)


def test_no_detections_give_no_boxes() -> None:
    result = track(dets(*[None] * 12), width=W, height=H, fps=FPS)
    assert result.segments == [] and result.boxes == [None] * 12
    assert track([], width=W, height=H, fps=FPS).boxes == []
