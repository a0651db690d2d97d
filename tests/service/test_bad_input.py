"""Uploads the service refuses, with a clear message and nothing left behind; malformed bodies."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from shared.contract import Routes
from tests.fixtures.client import folders_under, list_all, submit, submit_ok
from tests.fixtures.live_service import LiveService


def assert_nothing_left(live: LiveService, http: httpx.Client) -> None:
    assert list_all(http) == []
    assert folders_under(live.data_dir / "tasks") == []


def test_submit_without_the_file_field_is_422(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    response = submit(http, video, field="attachment")

    assert response.status_code == 422
    assert_nothing_left(live, http)


def test_submit_that_is_not_multipart_is_422(live: LiveService, http: httpx.Client) -> None:
    response = http.post(Routes.TASKS, json={"file": "clip.mp4"})

    assert response.status_code == 422
    assert_nothing_left(live, http)


def test_empty_file_is_422_with_a_message(live: LiveService, http: httpx.Client) -> None:
    response = submit(http, b"", filename="empty.mp4")

    assert response.status_code == 422
    assert response.json()["detail"]
    assert_nothing_left(live, http)


def test_a_file_that_is_not_a_video_is_415_and_says_so(
    live: LiveService, http: httpx.Client
) -> None:
    for content in [b"hello, this is a text file and not a video\n" * 50, os.urandom(20_000)]:
        response = submit(http, content, filename="x.mp4")

        assert response.status_code == 415
        assert "not a video" in response.json()["detail"].lower()
        assert_nothing_left(live, http)


def test_upload_over_the_size_limit_is_413(service, video: Path) -> None:
    live = service(SORAWM_MAX_UPLOAD_BYTES="100000")
    with live.client() as http:
        assert submit(http, video).status_code == 201  # a small one still fits
        big = os.urandom(1_000_000)

        response = submit(http, big, filename="big.mp4")

        assert response.status_code == 413
        assert response.json()["detail"]
        tasks = list_all(http)
        assert len(tasks) == 1
        assert folders_under(live.data_dir / "tasks") == [tasks[0]["id"]]


def test_options_that_are_not_a_json_object_are_422(
    live: LiveService, http: httpx.Client, video: Path
) -> None:
    for options in ["{not json", "[1, 2]", '"a string"']:
        response = submit(http, video, options=options)

        assert response.status_code == 422, options
        assert response.json()["detail"]
        assert_nothing_left(live, http)


def test_malformed_claim_bodies_are_422(http: httpx.Client) -> None:
    malformed = http.post(
        Routes.CLAIM, content=b"{executor_id: oops", headers={"Content-Type": "application/json"}
    )
    without_id = http.post(Routes.CLAIM, json={"wait_s": 0})
    waits_too_long = http.post(Routes.CLAIM, json={"executor_id": "ET-SoraWM-1", "wait_s": 31})

    assert malformed.status_code == 422
    assert without_id.status_code == 422
    assert waits_too_long.status_code == 422


def test_malformed_json_body_on_heartbeat_is_422_and_changes_nothing(
    http: httpx.Client, video: Path, make_executor
) -> None:
    task = submit_ok(http, video)
    executor = make_executor()
    claim = executor.claim_one()

    response = http.post(
        f"/api/tasks/{task['id']}/heartbeat",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    out_of_range = executor.heartbeat(task["id"], claim["lease_token"], progress=150)

    assert response.status_code == 422
    assert out_of_range.status_code == 422
    seen = http.get(f"/api/tasks/{task['id']}").json()
    assert seen["status"] == "PROCESSING"
    assert seen["progress"] == 0


HOSTILE_FILENAMES = ["../../etc/passwd.mp4", "..\\..\\x.mp4", "/abs/path.mp4", "a/../../b.mp4"]


def test_hostile_filenames_are_stored_only_under_their_task_folder(
    live: LiveService, http: httpx.Client, video: Path, make_executor
) -> None:
    def files() -> set[Path]:  # the service's whole folder: its data dir lies inside
        return {p for p in live.workdir.rglob("*") if p.is_file()}

    executor = make_executor()
    for filename in HOSTILE_FILENAMES:
        before = files()

        task = submit_ok(http, video, filename=filename)

        task_dir = live.task_dir(task["id"]).resolve()
        new = files() - before
        allowed = (task_dir, (live.data_dir / "logs").resolve())
        outside = [
            p
            for p in new
            if p.parent != live.data_dir and not any(p.resolve().is_relative_to(a) for a in allowed)
        ]
        assert outside == [], filename
        assert any(p.resolve().is_relative_to(task_dir) for p in new), filename
        plain = filename.replace("\\", "/")
        for naive in (task_dir / plain, live.workdir / plain, live.data_dir / plain):
            naive = naive.resolve()  # where a plain path join would have written it
            assert naive.is_relative_to(task_dir) or not naive.exists(), naive
        claim = executor.claim_one()
        assert claim["task_id"] == task["id"]
        download = executor.download_input(task["id"], claim["lease_token"])
        assert download.content == video.read_bytes(), filename
