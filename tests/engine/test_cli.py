"""python -m executor.engine: help, a successful run, and one-line errors (exit 2, no file)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from executor.engine.cli import EXIT_BAD_INPUT, main


def test_help_explains_every_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "executor.engine", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for flag in (
        "--device",
        "--inpainter",
        "--detector-weights",
        "--lama-model",
        "--crf",
        "--preset",
        "--boxes",
    ):
        assert flag in result.stdout
    assert "temporal" in result.stdout and "cuda:N" in result.stdout


def test_a_run_with_boxes(
    clip: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = clip("in.mp4", width=160, height=96, frames=24)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({str(i): [40, 30, 90, 50] if i < 12 else None for i in range(24)}))
    out = tmp_path / "out.mp4"
    code = main([str(source), str(out), "--boxes", str(boxes), "--preset", "veryfast"])
    assert code == 0 and out.is_file()
    err = capsys.readouterr().err
    assert "100%" in err and "24 frames" in err and "1 mark segments" in err


def _truncated(clip: Callable[..., Path], tmp_path: Path) -> Path:
    whole = clip("whole.mp4", width=160, height=96, frames=24).read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(whole[: len(whole) // 2])
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "not found"),
        ("empty", "empty"),
        ("text", "not a video"),
        ("truncated", "truncated"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    kind: str,
    message: str,
    clip: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        source.write_bytes(b"")
    elif kind == "text":
        source.write_text("hello, I am not a video\n" * 50)
    elif kind == "truncated":
        source = _truncated(clip, tmp_path)
    out = tmp_path / "out" / "out.mp4"
    boxes = tmp_path / "boxes.json"
    boxes.write_text("{}")
    code = main([str(source), str(out), "--boxes", str(boxes), "--quiet"])
    assert code == EXIT_BAD_INPUT
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_bad_boxes_file_and_lama_without_model(
    clip: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = clip("in.mp4", width=160, height=96, frames=6)
    boxes = tmp_path / "boxes.json"
    boxes.write_text('{"0": [1, 2, 3]}')
    assert main([str(source), str(tmp_path / "a.mp4"), "--boxes", str(boxes)]) == EXIT_BAD_INPUT
    assert "each box is" in capsys.readouterr().err
    code = main(
        [
            str(source),
            str(tmp_path / "b.mp4"),
            "--inpainter",
            "lama",
            "--boxes",
            str(boxes.with_name("none.json")),
        ]
    )
    assert code == EXIT_BAD_INPUT
    boxes.write_text("{}")
    code = main(
        [str(source), str(tmp_path / "b.mp4"), "--inpainter", "lama", "--boxes", str(boxes)]
    )
    assert code == EXIT_BAD_INPUT and "--lama-model" in capsys.readouterr().err
