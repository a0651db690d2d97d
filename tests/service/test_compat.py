"""The single-box SoraWM server's API, as its users know it."""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.contract import CompatResults, CompatSubmitted
from tests.fixtures.client import submit


def compat_submit(http: httpx.Client, video: Path) -> str:
    response = submit(http, video, field="video", route="/submit_remove_task")
    assert response.status_code == 200, response.text
    return CompatSubmitted.model_validate(response.json()).task_id


def results(http: httpx.Client, task_id: str, param: str = "task_id") -> CompatResults:
    response = http.get("/get_results", params={param: task_id})
    assert response.status_code == 200, response.text
    return CompatResults.model_validate(response.json())


def test_submit_remove_task_takes_the_video_field_and_answers_the_task_id(
    http: httpx.Client, video: Path
) -> None:
    task_id = compat_submit(http, video)

    task = http.get(f"/api/tasks/{task_id}").json()
    assert task["status"] == "QUEUED"
    assert task["input"]["size"] == video.stat().st_size


def test_submit_remove_task_without_a_video_field_is_422(http: httpx.Client, video: Path) -> None:
    assert submit(http, video, field="file", route="/submit_remove_task").status_code == 422


def test_a_queued_task_shows_as_processing_at_zero_percent(http: httpx.Client, video: Path) -> None:
    task_id = compat_submit(http, video)

    for param in ["task_id", "remove_task_id"]:  # ours, and the original server's name
        seen = results(http, task_id, param)

        assert seen.status == "PROCESSING"
        assert seen.percentage == 0
        assert seen.download_url is None
        assert seen.error_message is None


def test_a_processing_task_shows_its_percentage(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task_id = compat_submit(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    executor.heartbeat(task_id, claim["lease_token"], progress=42.7)

    seen = results(http, task_id)

    assert seen.status == "PROCESSING"
    assert seen.percentage in (42, 43)


def test_a_finished_task_shows_its_download_url_and_downloads(
    http: httpx.Client, video: Path, make_executor, result_bytes: bytes
) -> None:
    task_id = compat_submit(http, video)
    executor = make_executor()
    executor.finish(executor.claim_one(), result_bytes)

    seen = results(http, task_id)
    download = http.get(f"/download/{task_id}")

    assert seen.status == "FINISHED"
    assert seen.percentage == 100
    assert seen.download_url == f"/download/{task_id}"
    assert download.status_code == 200
    assert download.content == result_bytes


def test_a_failed_task_shows_error_with_its_message(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task_id = compat_submit(http, video)
    executor = make_executor()
    claim = executor.claim_one()
    executor.fail(task_id, claim["lease_token"], "inpainting failed: out of memory")

    seen = results(http, task_id)

    assert seen.status == "ERROR"
    assert seen.error_message == "inpainting failed: out of memory"
    assert seen.download_url is None


def test_download_before_the_task_finished_is_400(http: httpx.Client, video: Path) -> None:
    task_id = compat_submit(http, video)

    assert http.get(f"/download/{task_id}").status_code == 400


def test_unknown_task_is_404_on_results_and_download(http: httpx.Client) -> None:
    assert http.get("/get_results", params={"task_id": "f" * 32}).status_code == 404
    assert http.get(f"/download/{'f' * 32}").status_code == 404
