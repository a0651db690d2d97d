"""Requests written to break the service: each gets a clean 4xx (or a correct answer), never a
5xx and never a hang, and the service keeps serving afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shared.contract import Routes
from tests.fixtures.client import get_task, submit, submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService
from tests.fixtures.raw_http import exchange


def still_serving(live: LiveService) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as http:
        assert http.get(Routes.HEALTH).status_code == 200


@pytest.fixture
def finished(
    live: LiveService,
    http: httpx.Client,
    video: Path,
    result_bytes: bytes,
    make_executor: Callable[..., ScriptedExecutor],
) -> str:
    task_id = str(submit_ok(http, video)["id"])
    executor = make_executor()
    executor.finish(executor.claim_one(), result_bytes)
    return task_id


def test_an_oversized_header_is_4xx(live: LiveService) -> None:
    head = "\r\n".join(
        [
            "GET /api/tasks HTTP/1.1",
            f"Host: 127.0.0.1:{live.port}",
            "X-Padding: " + "a" * 200_000,
        ]
    )
    try:
        answer = exchange(live.port, head, timeout_s=10)
        assert answer.status == 431
    except OSError:
        pass  # closed while the head was still being sent: a refusal too
    still_serving(live)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_json_route_given_another_content_type_is_4xx(
    live: LiveService, http: httpx.Client, content_type: str
) -> None:
    body = json.dumps({"executor_id": "ET-SoraWM-1"})
    response = http.post(Routes.CLAIM, content=body, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    still_serving(live)


def test_a_submit_that_is_json_is_4xx(live: LiveService, http: httpx.Client) -> None:
    response = http.post(Routes.TASKS, json={"file": "x"})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    ("range_header", "statuses"),
    [
        ("bytes=-5", {206}),  # a suffix: the last five bytes
        ("bytes=-0", {416}),
        ("bytes=-99999999999999999999999", {206}),  # a suffix past the start: the whole file
        ("bytes=99999999999999999999999-", {416}),
        ("bytes=5-2", {416}),
        ("bytes=-5-10", {200, 416}),
        ("bytes=0-0,5-9", {200, 206}),
        ("items=0-10", {200}),
    ],
)
def test_odd_range_values_get_a_range_answer(
    live: LiveService, http: httpx.Client, finished: str, range_header: str, statuses: set[int]
) -> None:
    response = http.get(
        Routes.TASK_RESULT.format(task_id=finished), headers={"Range": range_header}
    )
    assert response.status_code in statuses, (range_header, response.status_code)


@pytest.mark.parametrize(
    "filename",
    [
        "../../../../etc/passwd.mp4",
        "..\\..\\windows\\system32\\clip.mp4",
        "名前の動画 🎬.mp4",
        "a" * 5000 + ".mp4",
        "clip\u202egpj.mp4",
        "",
    ],
)
def test_hostile_file_names_stay_names(
    live: LiveService, http: httpx.Client, video: Path, filename: str
) -> None:
    response = submit(http, video, filename=filename)
    assert response.status_code in (201, 422), response.text
    if response.status_code == 201:
        shown = get_task(http, response.json()["id"])["input"]["filename"]
        assert "/" not in shown and "\\" not in shown and len(shown) <= 200
        stored = list((live.data_dir / "tasks").rglob("*"))
        assert all(path.resolve().is_relative_to(live.data_dir.resolve()) for path in stored)
    still_serving(live)


@pytest.mark.parametrize("depth", [1_000, 20_000])
def test_deeply_nested_json_is_4xx(live: LiveService, http: httpx.Client, depth: int) -> None:
    nested = '{"a":' * depth + "1" + "}" * depth
    body = '{"executor_id": "ET-SoraWM-1", "capabilities": ' + nested + "}"
    response = http.post(Routes.CLAIM, content=body, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    still_serving(live)


def test_a_body_in_pieces_far_apart_is_cut_off_and_the_service_keeps_serving(service) -> None:
    live = service(SORAWM_BODY_TIMEOUT_S="1")
    body = json.dumps({"lease_token": "x", "error": "slow"}).encode()
    head = "\r\n".join(
        [
            f"POST {Routes.FAIL.format(task_id='a' * 32)} HTTP/1.1",
            f"Host: 127.0.0.1:{live.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body) + 1000}",  # more than will ever come
        ]
    )
    answer = exchange(live.port, head, [body[:5], body[5:10]], pause_s=0.5, timeout_s=10)
    assert answer.status == 408
    still_serving(live)
