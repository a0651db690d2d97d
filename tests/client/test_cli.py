"""`sorawm`, the user's CLI, as a real process against a live service."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from tests.fixtures.client import get_task, list_all, wait_for_status
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the CLI does not care which database the service uses


def sorawm(
    live: LiveService, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client.cli", "--server", live.url, *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
    )


def finish_all(live: LiveService, count: int, result: bytes) -> None:
    """A scripted executor that cleans `count` tasks by answering with `result`."""
    with ScriptedExecutor(live.url, "ET-SoraWM-9") as executor:
        for _ in range(count):
            claim = executor.claim(wait_s=20).json()
            executor.heartbeat(claim["task_id"], claim["lease_token"], progress=50, stage="inpaint")
            assert executor.upload_result(claim["task_id"], claim["lease_token"], result).is_success


def test_submit_prints_the_task_id_and_the_task_is_queued(
    live: LiveService, video: Path, http: httpx.Client
) -> None:
    done = sorawm(live, "submit", str(video))

    assert done.returncode == 0, done.stderr
    task_id = done.stdout.split("task ")[1].split()[0]
    assert get_task(http, task_id)["status"] == "QUEUED"


def test_submit_a_folder_uploads_every_video_in_it(
    live: LiveService, make_video: Callable[..., Path], http: httpx.Client, tmp_path: Path
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for index in range(3):
        make_video(f"clip{index}.mp4").rename(folder / f"clip{index}.mp4")
    (folder / "notes.txt").write_text("not a video: skipped by suffix")

    done = sorawm(live, "submit", str(folder), "--concurrency", "2")

    assert done.returncode == 0, done.stderr
    names = sorted(task["input"]["filename"] for task in list_all(http))
    assert names == ["clip0.mp4", "clip1.mp4", "clip2.mp4"]


def test_submit_wait_follows_the_task_and_downloads_the_result(
    live: LiveService, video: Path, result_bytes: bytes, tmp_path: Path
) -> None:
    worker = threading.Thread(target=finish_all, args=(live, 1, result_bytes), daemon=True)
    worker.start()
    out = tmp_path / "out"

    done = sorawm(live, "submit", str(video), "--wait", "-o", str(out))

    worker.join(30)
    assert done.returncode == 0, done.stderr
    assert (out / f"{video.stem}.cleaned.mp4").read_bytes() == result_bytes
    assert "FINISHED" in done.stderr


def test_a_non_video_is_reported_and_the_exit_code_says_so(
    live: LiveService, tmp_path: Path
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("hello, I am not a video")

    done = sorawm(live, "submit", str(text))

    assert done.returncode == 1
    assert "not a video" in done.stderr


def test_download_resumes_a_cut_download(
    live: LiveService, video: Path, result_bytes: bytes, http: httpx.Client, tmp_path: Path
) -> None:
    task_id = sorawm(live, "submit", str(video)).stdout.split("task ")[1].split()[0]
    finish_all(live, 1, result_bytes)
    dest = tmp_path / "clean.mp4"
    etag = http.get(f"/api/tasks/{task_id}/result").headers["etag"]
    # as a download cut after 1000 bytes leaves it
    (tmp_path / "clean.mp4.part").write_bytes(result_bytes[:1000])
    (tmp_path / "clean.mp4.etag").write_text(etag)

    done = sorawm(live, "download", task_id, "-o", str(dest))

    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == result_bytes
    assert not (tmp_path / "clean.mp4.part").exists()


def test_download_whose_part_is_already_complete_finishes(
    live: LiveService, video: Path, result_bytes: bytes, http: httpx.Client, tmp_path: Path
) -> None:
    task_id = sorawm(live, "submit", str(video)).stdout.split("task ")[1].split()[0]
    finish_all(live, 1, result_bytes)
    dest = tmp_path / "clean.mp4"
    etag = http.get(f"/api/tasks/{task_id}/result").headers["etag"]
    # as a download cut after its last byte, before the rename, leaves it: the service
    # answers the resume with 416
    (tmp_path / "clean.mp4.part").write_bytes(result_bytes)
    (tmp_path / "clean.mp4.etag").write_text(etag)

    done = sorawm(live, "download", task_id, "-o", str(dest))

    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == result_bytes
    assert not (tmp_path / "clean.mp4.part").exists()


def test_status_list_and_cancel(live: LiveService, video: Path, http: httpx.Client) -> None:
    task_id = sorawm(live, "submit", str(video)).stdout.split("task ")[1].split()[0]

    status = sorawm(live, "status", task_id)
    listing = sorawm(live, "list")
    cancel = sorawm(live, "cancel", task_id)

    assert "QUEUED" in status.stdout and task_id in status.stdout
    assert task_id in listing.stdout
    assert cancel.returncode == 0 and "CANCELLED" in cancel.stdout
    wait_for_status(http, task_id, "CANCELLED")


def test_download_before_the_task_finished_explains_why(live: LiveService, video: Path) -> None:
    task_id = sorawm(live, "submit", str(video)).stdout.split("task ")[1].split()[0]

    done = sorawm(live, "download", task_id)

    assert done.returncode == 1
    assert "not ready" in done.stderr


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "client.cli", "--server", "http://127.0.0.1:9", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "cannot reach" in done.stderr


def test_a_client_token_is_sent(service: Callable[..., LiveService], video: Path) -> None:
    live = service(SORAWM_LOOPBACK_EXEMPT="false", SORAWM_CLIENT_TOKENS="alice:tok-a")
    refused = sorawm(live, "list")
    allowed = subprocess.run(
        [sys.executable, "-m", "client.cli", "--server", live.url, "--token", "tok-a", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "401" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr


def test_submit_with_regions_a_mask_and_an_inpainter_sets_the_tasks_options(
    live: LiveService, video: Path, http: httpx.Client, tmp_path: Path
) -> None:
    mask = np.zeros((48, 64), dtype=np.uint8)  # the size of the `video` fixture
    mask[10:20, 10:40] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)

    done = sorawm(
        live,
        "submit",
        str(video),
        "--inpainter",
        "telea",
        "--region",
        "1,2,30,40@0-0.25",
        "--region",
        "5,5,20,20",
        "--mask",
        f"{tmp_path / 'mask.png'}@0.25-",
        "--no-detect",
    )

    assert done.returncode == 0, done.stderr
    options = get_task(http, done.stdout.split("task ")[1].split()[0])["options"]
    assert options["inpainter"] == "telea" and options["detect"] is False
    assert options["regions"] == [
        {"box": [1, 2, 30, 40], "start_s": 0.0, "end_s": 0.25},
        {"box": [5, 5, 20, 20]},
    ]
    assert options["masks"] == [
        {"start_s": 0.25, "png_bytes": (tmp_path / "mask.png").stat().st_size}
    ]


def test_a_bad_region_is_refused_before_any_upload(
    live: LiveService, video: Path, http: httpx.Client
) -> None:
    done = sorawm(live, "submit", str(video), "--region", "30,2,10,40")

    assert done.returncode == 1
    assert "options.regions[0].box: x2 must be greater than x1" in done.stderr
    assert list_all(http) == []
