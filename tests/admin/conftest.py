"""The admin page's tests run on SQLite only: the page does not care which database it is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.fixtures.browser import WatchedPage


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def admin_page(browser: Browser) -> Iterator[WatchedPage]:
    watched = WatchedPage.open(browser)
    yield watched
    watched.page.close()
