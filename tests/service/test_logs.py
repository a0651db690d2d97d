"""Executor logs in, admin logs out: every filter, and paging newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.contract import LogPage, LogRecordPublic

T0 = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def post_logs(http: httpx.Client, executor_id: str, records: list[dict]) -> httpx.Response:
    return http.post("/api/logs", json={"executor_id": executor_id, "records": records})


def admin_logs(http: httpx.Client, **params: object) -> list[LogRecordPublic]:
    response = http.get("/api/admin/logs", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return LogPage.model_validate(response.json()).items


@pytest.fixture
def seeded(http: httpx.Client) -> None:
    """Ten records from two executors (ids no executor ever claims with), one a second apart."""
    records = [
        {
            "ts": (T0 + timedelta(seconds=i)).isoformat(),
            "level": LEVELS[i % 5],
            "message": f"Record {i} {'Decoding FRAMES' if i % 2 else 'uploading'}",
            "task_id": "task-a" if i < 5 else "task-b",
        }
        for i in range(10)
    ]
    assert post_logs(http, "ET-logs-1", records[:6]).json() == {"accepted": 6}
    assert post_logs(http, "ET-logs-2", records[6:]).json() == {"accepted": 4}


def messages(records: list[LogRecordPublic]) -> list[str]:
    return [record.message for record in records]


def test_posting_a_batch_answers_202_with_the_count(http: httpx.Client) -> None:
    response = post_logs(
        http, "ET-logs-1", [{"level": "INFO", "message": "one"}, {"message": "two"}]
    )

    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    stored = admin_logs(http, executor_id="ET-logs-1")
    assert sorted(messages(stored)) == ["one", "two"]
    assert all(record.level == "INFO" for record in stored)


def test_wefastapi_single_line_is_accepted(http: httpx.Client) -> None:
    response = http.post(
        "/api/bases/logs/", json={"level": "info", "message": "wefastapi says hello"}
    )

    assert response.status_code == 200
    assert response.json() == {"accepted": 1}
    found = admin_logs(http, q="wefastapi says hello")
    assert len(found) == 1
    assert found[0].level == "INFO"


def test_log_batch_with_a_malformed_record_is_422(http: httpx.Client) -> None:
    response = post_logs(http, "ET-logs-1", [{"level": "INFO"}])

    assert response.status_code == 422
    assert admin_logs(http, executor_id="ET-logs-1") == []


@pytest.mark.usefixtures("seeded")
def test_filter_by_executor_id(http: httpx.Client) -> None:
    found = admin_logs(http, executor_id="ET-logs-2")

    assert sorted(messages(found)) == sorted(
        f"Record {i} {'Decoding FRAMES' if i % 2 else 'uploading'}" for i in range(6, 10)
    )
    assert {record.executor_id for record in found} == {"ET-logs-2"}


@pytest.mark.usefixtures("seeded")
def test_filter_by_task_id(http: httpx.Client) -> None:
    found = admin_logs(http, task_id="task-b")

    assert len(found) == 5
    assert {record.task_id for record in found} == {"task-b"}


@pytest.mark.usefixtures("seeded")
def test_level_filter_is_a_minimum_level(http: httpx.Client) -> None:
    found = admin_logs(http, level="WARNING", executor_id="ET-logs-1")

    assert sorted(record.level.value for record in found) == ["CRITICAL", "ERROR", "WARNING"]


@pytest.mark.usefixtures("seeded")
def test_q_is_a_case_insensitive_substring_of_the_message(http: httpx.Client) -> None:
    found = admin_logs(http, q="decoding frames")

    assert sorted(messages(found)) == [f"Record {i} Decoding FRAMES" for i in (1, 3, 5, 7, 9)]


@pytest.mark.usefixtures("seeded")
def test_since_is_inclusive_and_until_exclusive(http: httpx.Client) -> None:
    since, until = T0 + timedelta(seconds=2), T0 + timedelta(seconds=5)

    found = admin_logs(http, since=since.isoformat(), until=until.isoformat())

    assert [record.ts for record in found] == [T0 + timedelta(seconds=i) for i in (4, 3, 2)]


@pytest.mark.usefixtures("seeded")
def test_filters_combine(http: httpx.Client) -> None:
    found = admin_logs(http, executor_id="ET-logs-1", task_id="task-a", level="ERROR", q="record")

    assert messages(found) == ["Record 4 uploading", "Record 3 Decoding FRAMES"]


def test_paging_newest_first_has_no_gaps_or_duplicates_while_records_arrive(
    http: httpx.Client,
) -> None:
    for batch in range(5):
        post_logs(http, "ET-logs-page", [{"message": f"m{batch * 5 + i:02d}"} for i in range(5)])
    seen: list[LogRecordPublic] = []
    cursor = None
    for page_number in range(100):
        params = {"executor_id": "ET-logs-page", "limit": 4}
        if cursor:
            params["cursor"] = cursor
        response = http.get("/api/admin/logs", params=params)
        assert response.status_code == 200
        page = LogPage.model_validate(response.json())
        assert len(page.items) <= 4
        seen += page.items
        post_logs(http, "ET-logs-page", [{"message": f"late{page_number}"}])
        cursor = page.next_cursor
        if not cursor:
            break

    assert [record.message for record in seen] == [f"m{i:02d}" for i in range(24, -1, -1)]
    ids = [record.id for record in seen]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)
