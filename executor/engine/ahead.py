"""Run an iterator on a worker thread, a few items ahead of the code that consumes it.

Decoding (FFmpeg), detection (torch), repainting (OpenCV, numpy) and encoding all release
the GIL for their heavy parts, so a producer thread keeps a second core busy while the
consumer works on the previous item.

    with Ahead(lambda: decode(src), depth=8, name="decode") as frames:
        for frame in frames:
            ...
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class Ahead(Generic[T]):
    """Iterate it inside its with block; leaving the block stops and joins the worker.
    An exception in the producer is raised in the consumer at the item where it happened."""

    def __init__(self, make: Callable[[], Iterator[T]], *, depth: int, name: str) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._make = make
        self._queue: queue.Queue[object] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)

    def __enter__(self) -> Ahead[T]:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():  # a producer blocked on a full queue must see the stop
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]

    def _work(self) -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = self._make()
            for item in iterator:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as error:  # handed to the consumer
            self._put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator's with blocks (open files, decoders) end here

    def _put(self, item: object) -> bool:
        """Queue an item; False once the consumer has left."""
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=0.1)
                return True
        return False


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
