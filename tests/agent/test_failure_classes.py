"""How the agent tells the service whether a failed task may be tried again."""

from __future__ import annotations

from executor.agent.engine_runner import classify
from executor.engine.errors import CorruptInput, NotAVideo


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
