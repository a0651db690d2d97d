"""One exception family for everything the engine reports: `EngineError`, which says whether
the same task may pass on another try (`retryable`).

Bad input is final: every VideoError message is meant to be shown to a person as is, so it
says what is wrong with the input, not which FFmpeg call failed. Running out of memory or
failing on the executor's own files may pass elsewhere: `engine_error` turns those raw
exceptions into members of the family, at the engine's public entry (`engine_boundary`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class EngineError(Exception):
    """the engine failed"""

    retryable: bool = True
    # the machine's fault (its memory, its disk), not the video's: another machine may pass
    of_this_machine: bool = False


class OutOfMemory(EngineError):
    """out of memory on this executor (host or GPU)"""

    of_this_machine = True


class ExecutorFileError(EngineError):
    """a file of this executor could not be read or written (disk full, permissions)"""

    of_this_machine = True


class VideoError(EngineError):
    """The video could not be read or written."""

    retryable = False


class InputNotFound(VideoError):
    """input file not found"""


class EmptyInput(VideoError):
    """input is empty (0 bytes)"""


class NotAVideo(VideoError):
    """input is not a video: no video stream found"""


class NoFrames(VideoError):
    """input has no frames"""


class CorruptInput(VideoError):
    """input is truncated or corrupted"""


class UnsupportedInput(VideoError):
    """input uses a feature the engine does not handle"""


class OutputError(VideoError):
    """the output video could not be written"""


def engine_error(exc: BaseException) -> EngineError | None:
    """`exc` as a member of the family: itself when it is one, OutOfMemory or
    ExecutorFileError for the raw exceptions that mean so, None for anything else."""
    if isinstance(exc, EngineError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or _torch_out_of_memory(exc):
        return OutOfMemory(f"out of memory on this executor ({text})")
    if isinstance(exc, OSError):
        return ExecutorFileError(f"executor file error ({text})")
    return None


def engine_boundary(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, raising the raw exceptions `engine_error` knows as family members (the
    original stays attached as the cause)."""

    @functools.wraps(function)
    def bounded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            error = engine_error(exc)
            if error is None or error is exc:
                raise
            raise error from exc

    return bounded


def _torch_out_of_memory(exc: BaseException) -> bool:
    # torch is never imported just to ask: a run that did not load it cannot have run out of
    # its memory (and the engine runs without torch when nothing needs it)
    torch = sys.modules.get("torch")
    kind = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    return kind is not None and isinstance(exc, kind)
