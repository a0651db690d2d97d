"""The upload page at / in headless Chromium, with a real local executor cleaning the video."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from playwright.sync_api import Browser, expect

from tests.fixtures.browser import WatchedPage
from tests.fixtures.executor_process import ExecutorProcess
from tests.fixtures.live_service import LiveService
from tools.synth.clip import ClipFiles


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def page(browser: Browser) -> Iterator[WatchedPage]:
    watched = WatchedPage.open(browser)
    yield watched
    watched.page.close()


@pytest.fixture
def local_executor(live: LiveService, tmp_path: Path) -> Iterator[ExecutorProcess]:
    process = ExecutorProcess(
        service_url=live.url,
        number=1,
        workdir=tmp_path / "executor",
        args=["--device", "cpu"],
    ).start()
    yield process
    process.stop()


def frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_video_uploaded_on_the_page_is_cleaned_and_downloaded(
    page: WatchedPage,
    live: LiveService,
    local_executor: ExecutorProcess,
    make_clip: Callable[..., ClipFiles],
    tmp_path: Path,
) -> None:
    clip = make_clip(0)
    page.page.goto(live.url + "/")

    page.page.set_input_files("#files", str(clip.marked))

    job = page.page.locator(".job").first
    expect(job).to_contain_text(clip.marked.name)
    download_link = job.locator("a.download")
    expect(download_link).to_be_visible(timeout=180_000)
    expect(job.locator(".badge")).to_have_text("FINISHED")
    with page.page.expect_download() as download_info:
        download_link.click()
    saved = tmp_path / "cleaned.mp4"
    download_info.value.save_as(saved)

    assert download_info.value.suggested_filename == f"{clip.marked.stem}.cleaned.mp4"
    assert frames_in(saved) == clip.frames
    assert page.errors == []


def test_a_file_that_is_not_a_video_shows_the_reason(
    page: WatchedPage, live: LiveService, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("these are my notes, not a video")
    page.page.goto(live.url + "/")

    page.page.set_input_files("#files", str(notes))

    job = page.page.locator(".job").first
    expect(job.locator(".badge")).to_have_text("ERROR")
    expect(job.locator(".problem")).to_contain_text("not a video")
