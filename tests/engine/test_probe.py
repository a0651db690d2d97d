"""probe() reports the facts of real encoded videos."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from executor.engine.video import probe


def test_probe_reports_size_rate_count_and_duration(clip: Callable[..., Path]) -> None:
    info = probe(clip(width=176, height=96, frames=30, fps=30))
    assert (info.width, info.height) == (176, 96)
    assert info.frame_rate == Fraction(30)
    assert info.fps == pytest.approx(30.0)
    assert info.frame_count == 30
    assert info.frame_count_declared
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.codec == "h264"
    assert info.pixel_format == "yuv420p"


def test_probe_reports_audio_presence(clip: Callable[..., Path]) -> None:
    assert probe(clip("a.mp4", audio=True)).audio_codec == "aac"
    assert probe(clip("a.mp4", audio=True)).has_audio
    assert not probe(clip("b.mp4", audio=False)).has_audio


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_probe_reads_rotation_from_the_display_matrix(
    clip: Callable[..., Path], rotation: int
) -> None:
    assert probe(clip(rotation=rotation)).rotation == rotation


def test_probe_reports_colour_tags_as_tagged(clip: Callable[..., Path]) -> None:
    info = probe(clip(colour=(2, 1, 1, 1)))
    assert (info.colour.range, info.colour.matrix) == (2, 1)
    assert (info.colour.primaries, info.colour.transfer) == (1, 1)
    assert info.colour.full_range


def test_probe_counts_frames_when_the_container_does_not_say(clip: Callable[..., Path]) -> None:
    info = probe(clip("in.mkv", frames=17))
    assert not info.frame_count_declared
    assert info.frame_count == 17
