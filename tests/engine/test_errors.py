"""The engine's public entry raises its own exception family, which says whether another try
may pass, for the raw errors it knows (memory, the executor's own files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from executor.engine import pipeline
from executor.engine.errors import ExecutorFileError, OutOfMemory, VideoError
from executor.engine.pipeline import remove_watermark
from tests.fixtures.videos import write_video


def test_bad_input_is_final(tmp_path: Path) -> None:
    with pytest.raises(VideoError) as raised:
        remove_watermark(tmp_path / "missing.mp4", tmp_path / "out.mp4", boxes=[])
    assert not raised.value.retryable


def test_an_output_that_cannot_be_written_is_an_executor_file_error(tmp_path: Path) -> None:
    src = write_video(tmp_path / "in.mp4")
    (tmp_path / "taken").write_text("a file where the output's folder should be")
    with pytest.raises(ExecutorFileError) as raised:
        remove_watermark(src, tmp_path / "taken" / "out.mp4", inpainter="telea", boxes=[])
    assert raised.value.retryable
    assert isinstance(raised.value.__cause__, OSError)
    assert str(raised.value).startswith("executor file error (")


def test_running_out_of_memory_is_named_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(path: Path) -> None:
        raise MemoryError()

    monkeypatch.setattr(pipeline, "probe", no_memory)
    with pytest.raises(OutOfMemory) as raised:
        remove_watermark(tmp_path / "in.mp4", tmp_path / "out.mp4")
    assert raised.value.retryable
    assert str(raised.value) == "out of memory on this executor (MemoryError: )"
