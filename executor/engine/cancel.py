"""Cancelling a run: the caller's `should_cancel()` is polled between units of work, and a
yes raises `Cancelled` out of whichever stage is running."""

from __future__ import annotations

from collections.abc import Callable

ShouldCancel = Callable[[], bool]


class Cancelled(Exception):
    """the run was cancelled"""


def check_cancel(should_cancel: ShouldCancel | None) -> None:
    """Raise Cancelled when the caller asks to stop."""
    if should_cancel is not None and should_cancel():
        raise Cancelled("cancelled")
