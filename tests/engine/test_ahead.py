"""Ahead runs a producer on a worker thread and hands its items over in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from executor.engine.ahead import Ahead


def test_items_arrive_in_order_and_all_of_them() -> None:
    with Ahead(lambda: iter(range(1000)), depth=4, name="t") as items:
        assert list(items) == list(range(1000))


def test_the_producer_runs_on_another_thread() -> None:
    def producer() -> Iterator[int]:
        yield threading.get_ident()

    with Ahead(producer, depth=1, name="t") as items:
        assert list(items) != [threading.get_ident()]


def test_a_producer_error_reaches_the_consumer_after_the_items_before_it() -> None:
    def producer() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"), Ahead(producer, depth=8, name="t") as items:
        for item in items:
            seen.append(item)
    assert seen == [1, 2]


def test_leaving_early_stops_the_producer_and_closes_it() -> None:
    closed = threading.Event()

    def producer() -> Iterator[int]:
        try:
            n = 0
            while True:  # endless: only the stop can end it
                yield n
                n += 1
        finally:
            closed.set()

    with Ahead(producer, depth=2, name="t") as items:
        for item in items:
            if item == 5:
                break
    assert closed.is_set()
