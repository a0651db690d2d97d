"""The /admin page in headless Chromium against a live service."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import expect

from shared.contract import Routes
from tests.fixtures.browser import WatchedPage
from tests.fixtures.client import submit_ok
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService

HOSTILE = "<img src=x onerror=alert(1)>"


def log_lines(executor: ScriptedExecutor, *messages: str, level: str = "INFO") -> None:
    response = executor.send_logs([{"level": level, "message": text} for text in messages])
    assert response.status_code == 202, response.text


def wait_for_logs(http: httpx.Client, *, count: int, **filters: str) -> None:
    """The service writes its own records in batches: wait until they are stored."""
    deadline = time.monotonic() + 10
    while len(http.get(Routes.ADMIN_LOGS, params=filters).json()["items"]) < count:
        assert time.monotonic() < deadline, f"fewer than {count} log records for {filters}"
        time.sleep(0.1)


def open_admin(admin_page: WatchedPage, live: LiveService) -> None:
    admin_page.page.goto(f"{live.url}/admin")
    expect(admin_page.page.locator("#log-rows tr").first).to_be_visible()


def test_page_loads_with_no_console_errors(
    admin_page: WatchedPage, live: LiveService, make_executor: Callable[..., ScriptedExecutor]
) -> None:
    executor = make_executor("ET-SoraWM-1")
    assert executor.claim().status_code == 204  # an executor is known by its claims
    log_lines(executor, "hello from the executor")

    open_admin(admin_page, live)
    expect(admin_page.page.locator("#fleet-rows tr")).to_have_count(1)

    assert admin_page.errors == []
    assert admin_page.dialogs == []


def test_filtering_by_executor_shows_only_its_lines(
    admin_page: WatchedPage, live: LiveService, make_executor: Callable[..., ScriptedExecutor]
) -> None:
    log_lines(make_executor("ET-SoraWM-1"), "one says a", "one says b")
    log_lines(make_executor("ET-SoraWM-2"), "two says c")
    open_admin(admin_page, live)
    page = admin_page.page

    page.fill("input[name=executor_id]", "ET-SoraWM-2")
    page.click("#log-filters button[type=submit]")

    rows = page.locator("#log-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("two says c")
    expect(rows.first).to_contain_text("ET-SoraWM-2")


def test_filtering_by_level_shows_that_level_and_above(
    admin_page: WatchedPage, live: LiveService, make_executor: Callable[..., ScriptedExecutor]
) -> None:
    executor = make_executor("ET-SoraWM-1")
    log_lines(executor, "just chatter", level="DEBUG")
    log_lines(executor, "disk almost full", level="WARNING")
    log_lines(executor, "decoder crashed", level="ERROR")
    open_admin(admin_page, live)
    page = admin_page.page

    page.select_option("select[name=level]", "WARNING")
    page.click("#log-filters button[type=submit]")

    rows = page.locator("#log-rows tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#log-rows")).not_to_contain_text("just chatter")


def test_live_tail_shows_a_line_posted_after_it_started(
    admin_page: WatchedPage, live: LiveService, make_executor: Callable[..., ScriptedExecutor]
) -> None:
    executor = make_executor("ET-SoraWM-1")
    log_lines(executor, "before the tail")
    open_admin(admin_page, live)
    page = admin_page.page
    page.check("#live")
    page.wait_for_timeout(700)  # let the stream connect before the line is posted

    log_lines(executor, "arrived while tailing")

    newest = page.locator("#log-rows tr").first
    expect(newest).to_contain_text("arrived while tailing", timeout=5000)
    assert admin_page.errors == []


def test_fleet_table_shows_an_executor_going_offline(
    admin_page: WatchedPage, service: Callable[..., LiveService]
) -> None:
    live = service(SORAWM_EXECUTOR_OFFLINE_AFTER_S="2")
    with ScriptedExecutor(live.url, "ET-SoraWM-7") as executor:
        assert executor.claim().status_code == 204
    admin_page.page.goto(f"{live.url}/admin")
    row = admin_page.page.locator("#fleet-rows tr[data-executor='ET-SoraWM-7']")
    expect(row).to_have_attribute("data-state", "online")

    # nothing more from it: the page's refresh shows it offline once 2 s have passed
    expect(row).to_have_attribute("data-state", "offline", timeout=10000)
    expect(row).to_contain_text("offline")


def test_hostile_log_message_is_shown_as_literal_text(
    admin_page: WatchedPage, live: LiveService, make_executor: Callable[..., ScriptedExecutor]
) -> None:
    log_lines(make_executor("ET-SoraWM-1"), HOSTILE, level="WARNING")

    open_admin(admin_page, live)
    page = admin_page.page
    page.wait_for_timeout(500)

    expect(page.locator("#log-rows td.message", has_text=HOSTILE)).to_have_count(1)
    assert page.locator("#log-rows img").count() == 0
    assert admin_page.dialogs == []


def test_task_logs_link_filters_the_log_viewer_by_that_task(
    admin_page: WatchedPage, live: LiveService, video: Path, http: httpx.Client
) -> None:
    first = submit_ok(http, video)
    submit_ok(http, video)
    wait_for_logs(http, task_id=first["id"], count=2)
    open_admin(admin_page, live)
    page = admin_page.page

    page.locator(f"#task-rows tr[data-task='{first['id']}'] a").click()

    expect(page.locator("input[name=task_id]")).to_have_value(first["id"])
    rows = page.locator("#log-rows tr")
    expect(rows).to_have_count(2)  # created → UPLOADING, UPLOADING → QUEUED
    for index in range(2):
        expect(rows.nth(index)).to_contain_text(first["id"][:8])


def test_page_without_the_admin_token_shows_no_data_until_one_is_given(
    admin_page: WatchedPage, service: Callable[..., LiveService]
) -> None:
    live = service(
        SORAWM_LOOPBACK_EXEMPT="false",
        SORAWM_ADMIN_TOKENS="root:s3cret",
        SORAWM_EXECUTOR_TOKENS="ex:te",
    )
    with ScriptedExecutor(live.url, "ET-SoraWM-1", token="te") as executor:
        log_lines(executor, "only admins may read this")
    page = admin_page.page
    page.goto(f"{live.url}/admin")

    expect(page.locator("#status")).to_contain_text("admin token is needed")
    expect(page.locator("#log-rows tr")).to_have_count(0)

    page.fill("#token", "s3cret")
    page.click("#token-form button")

    expect(page.locator("#log-rows")).to_contain_text("only admins may read this")
    expect(page.locator("#status")).to_have_text("")


def test_fleet_table_shows_an_executor_cooling_down_after_a_fault_of_its_own(
    admin_page: WatchedPage, live: LiveService, http: httpx.Client, video: Path
) -> None:
    submit_ok(http, video)
    with ScriptedExecutor(live.url, "ET-SoraWM-8") as executor:
        claim = executor.claim_one()
        answer = executor.http.post(
            f"/api/tasks/{claim['task_id']}/fail",
            json={
                "lease_token": claim["lease_token"],
                "error": "not enough free disk",
                "retryable": True,
                "executor_fault": True,
            },
        )
        assert answer.status_code == 200 and answer.json()["cooldown_s"] > 0
    admin_page.page.goto(f"{live.url}/admin")
    row = admin_page.page.locator("#fleet-rows tr[data-executor='ET-SoraWM-8']")
    expect(row).to_have_attribute("data-state", "cooling")
    expect(row).to_contain_text("cooling down")
    badge = row.locator(".state-cooling")
    expect(badge).to_have_attribute("title", re.compile("not enough free disk"))
    assert admin_page.errors == []
