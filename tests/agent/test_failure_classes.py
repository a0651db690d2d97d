"""How the agent tells the service whether a failed task may be tried again."""

from __future__ import annotations

import pytest

from executor.agent.engine_runner import Outcome, classify
from executor.engine.errors import CorruptInput, EngineError, NotAVideo


def test_bad_input_is_final() -> None:
    for error in (NotAVideo("input is not a video"), CorruptInput("truncated at frame 12")):
        outcome = classify(error)
        assert not outcome.retryable
        assert outcome.error == str(error)


def test_running_out_of_gpu_or_host_memory_may_pass_on_another_try() -> None:
    for error in (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), MemoryError()):
        outcome = classify(error)
        assert outcome.retryable
        assert "out of memory" in (outcome.error or "")


def test_a_full_disk_may_pass_on_another_executor() -> None:
    assert classify(OSError(28, "No space left on device")).retryable


def test_an_unknown_engine_error_is_retried_with_its_type_named() -> None:
    outcome = classify(KeyError("segment"))
    assert outcome.retryable
    assert "KeyError" in (outcome.error or "")


def test_the_gpu_running_out_of_memory_is_told_by_its_type() -> None:
    torch = pytest.importorskip("torch")
    outcome = classify(torch.cuda.OutOfMemoryError("CUDA error: tried to allocate 2.00 GiB"))
    assert outcome.retryable
    assert outcome.error == (
        "out of memory on this executor (OutOfMemoryError: CUDA error: tried to allocate 2.00 GiB)"
    )


def test_a_full_disk_is_named_an_executor_file_error() -> None:
    outcome = classify(OSError(28, "No space left on device"))
    assert outcome.error == "executor file error (OSError: [Errno 28] No space left on device)"


def test_an_engine_error_says_itself_whether_another_try_may_pass() -> None:
    class Final(EngineError):
        retryable = False

    class Passing(EngineError):
        pass

    assert classify(Final("this input cannot be done")) == Outcome(
        ok=False, error="this input cannot be done", retryable=False
    )
    assert classify(Passing("try elsewhere")).retryable


def test_arguments_the_engine_refuses_are_final() -> None:
    outcome = classify(ValueError("options.regions[0]: the end time must be after the start"))
    assert not outcome.retryable
    assert outcome.error == "ValueError: options.regions[0]: the end time must be after the start"


def test_memory_and_disk_are_this_executors_fault_not_the_tasks() -> None:
    for error in (MemoryError(), OSError(28, "No space left on device")):
        assert classify(error).executor_fault, error


def test_bad_input_and_unknown_errors_are_the_tasks_not_the_executors() -> None:
    for error in (NotAVideo("input is not a video"), KeyError("segment"), ValueError("crf")):
        assert not classify(error).executor_fault, error
