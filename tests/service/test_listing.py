"""`GET /api/tasks`: the caller's tasks, newest first, paged by `next_cursor`, by status."""

from __future__ import annotations

from pathlib import Path

import httpx

from shared.contract import TaskPage
from tests.fixtures.client import list_all, submit_ok


def submit_many(http: httpx.Client, video: Path, count: int) -> list[str]:
    return [submit_ok(http, video)["id"] for _ in range(count)]


def test_list_is_newest_first(http: httpx.Client, video: Path) -> None:
    ids = submit_many(http, video, 4)

    page = TaskPage.model_validate(http.get("/api/tasks").json())

    assert [task.id for task in page.items] == ids[::-1]
    assert page.next_cursor is None


def test_paging_through_next_cursor_gives_every_task_exactly_once_in_order(
    http: httpx.Client, video: Path
) -> None:
    ids = submit_many(http, video, 7)

    first = http.get("/api/tasks", params={"limit": 3}).json()
    everything = list_all(http, limit=3)

    assert len(first["items"]) == 3
    assert first["next_cursor"]
    assert [task["id"] for task in everything] == ids[::-1]


def test_paging_is_stable_when_tasks_arrive_between_pages(http: httpx.Client, video: Path) -> None:
    ids = submit_many(http, video, 5)
    first = http.get("/api/tasks", params={"limit": 2}).json()
    submit_many(http, video, 2)

    rest = []
    cursor = first["next_cursor"]
    while cursor:
        page = http.get("/api/tasks", params={"limit": 2, "cursor": cursor}).json()
        rest += page["items"]
        cursor = page["next_cursor"]

    assert [task["id"] for task in first["items"] + rest] == ids[::-1]


def test_status_filter_returns_only_tasks_in_that_status(
    http: httpx.Client, video: Path, make_executor
) -> None:
    ids = submit_many(http, video, 5)
    executor = make_executor()
    claimed = {executor.claim_one()["task_id"] for _ in range(2)}

    processing = list_all(http, status="PROCESSING")
    queued = list_all(http, status="QUEUED", limit=2)

    assert {task["id"] for task in processing} == claimed
    assert {task["id"] for task in queued} == set(ids) - claimed
    assert [task["id"] for task in queued] == [i for i in ids[::-1] if i not in claimed]
    assert list_all(http, status="FINISHED") == []


def test_unknown_status_filter_is_422(http: httpx.Client) -> None:
    assert http.get("/api/tasks", params={"status": "SLEEPING"}).status_code == 422


def test_bad_cursor_is_422(http: httpx.Client, video: Path) -> None:
    submit_many(http, video, 1)

    assert http.get("/api/tasks", params={"cursor": "%%%not-a-cursor"}).status_code == 422
