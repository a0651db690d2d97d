"""The agent's life: claim → download → engine (heartbeats beside it) → upload → next.

    run()            the loop, until drained, `--once` or `--max-tasks`
    claim_next()     long poll; network trouble is retried inside the client
    process(claim)   one task, its work folder removed at the end whatever happens
    run_engine()     the engine in a worker thread, watched for cancel, lease loss and drain
    deliver()        upload retried until the service acknowledges it

SIGTERM/SIGINT: stop claiming, let the current task finish within the drain timeout or hand
it back (`/fail`, retryable), exit 0. A second signal exits at once.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from loguru import logger

from executor.agent.capabilities import detect_capabilities
from executor.agent.client import (
    AgentError,
    ExecutorFault,
    GaveUp,
    LeaseLost,
    Malformed,
    Rejected,
    ServiceClient,
    sha256_file,
)
from executor.agent.engine_process import EngineProcess
from executor.agent.engine_runner import Outcome
from executor.agent.heartbeat import Heartbeat
from executor.agent.retry import Backoff
from executor.agent.settings import ExecutorSettings
from shared.contract import Capabilities, ClaimResponse

WATCH_EVERY_S = 0.2
# room for the input, the result and the engine's temp files
DISK_FACTOR = 3
DISK_MARGIN_BYTES = 512 * 1024 * 1024


class StopClaiming(BaseException):
    """Raised by the signal handler to cut a waiting long poll short (BaseException, so no
    `except Exception` on the way swallows it)."""


class Agent:
    def __init__(self, settings: ExecutorSettings, client: ServiceClient, device: str) -> None:
        self.settings = settings
        self.client = client
        self.device = device
        self.draining = threading.Event()
        self._claiming = False
        self.done = 0
        self.cooldown_s = 0.0  # set by the service's answer to a fault of this executor
        self.engine = EngineProcess(settings)  # started with the first task

    # ------------------------------------------------------------ signals

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # Windows: a console's Ctrl-Break (and a service manager's CTRL_BREAK_EVENT) arrives
        # as SIGBREAK, Ctrl-C as SIGINT; SIGTERM is never sent there (TerminateProcess kills)
        if hasattr(signal, "SIGBREAK"):
            signal.signal(signal.SIGBREAK, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.draining.is_set():
            logger.warning("second signal: exiting now")
            os._exit(128 + signum)
        name = signal.Signals(signum).name
        logger.info(
            "{}: no new tasks; finishing the current one (up to {:.0f} s)",
            name,
            self.settings.drain_timeout,
        )
        self.draining.set()
        if self._claiming:
            raise StopClaiming()

    # ------------------------------------------------------------ the loop

    def run(self) -> int:
        try:
            return self._run()
        finally:
            self.engine.close()

    def _run(self) -> int:
        capabilities = detect_capabilities(
            self.device, self.settings.lama_model, self.settings.detector_weights
        )
        logger.info(
            "{} ready on {} ({}), service {}",
            self.client.executor_id,
            self.device,
            capabilities.gpu_name or "no GPU",
            self.settings.service_host,
        )
        logger.info("inpainters offered: {}", ", ".join(capabilities.runs()))
        backoff = Backoff(cap=self.settings.retry_cap)
        while not self.draining.is_set():
            if self.settings.max_tasks is not None and self.done >= self.settings.max_tasks:
                break
            try:
                claim = self.claim_next(capabilities)
            except StopClaiming:
                break
            except (Rejected, GaveUp, Malformed) as exc:
                delay = backoff.next_delay()
                logger.error("claim failed: {}; trying again in {:.0f} s", exc, delay)
                self.draining.wait(delay)
                continue
            backoff.reset()
            if claim is None:
                if self.settings.once:
                    logger.info("no task came within {:.0f} s", self.settings.poll_wait)
                    break
                continue
            self.process(claim)
            self.done += 1
            if self.cooldown_s > 0:
                # the service gives this executor nothing for a while after a fault of its own
                logger.warning(
                    "cooling down for {:.0f} s after a fault of this executor", self.cooldown_s
                )
                self.draining.wait(self.cooldown_s)
                self.cooldown_s = 0.0
            if self.settings.once:
                break
        logger.info("{} stopping after {} task(s)", self.client.executor_id, self.done)
        return 0

    def claim_next(self, capabilities: Capabilities) -> ClaimResponse | None:
        self._claiming = True
        try:
            if self.draining.is_set():
                raise StopClaiming()
            return self.client.claim(capabilities, self.settings.poll_wait)
        finally:
            self._claiming = False

    # ------------------------------------------------------------ one task

    def process(self, claim: ClaimResponse) -> None:
        log = logger.bind(task_id=claim.task_id)
        log.info("claimed task (attempt {}), input {} bytes", claim.attempt, claim.input.size)
        workdir = self.settings.work_dir / claim.task_id
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            with Heartbeat(
                self.client,
                task_id=claim.task_id,
                lease_token=claim.lease_token,
                interval=claim.heartbeat_s,
            ) as beat:
                self._check_disk(claim.input.size)
                beat.report(0, "download")
                suffix = Path(claim.input.filename).suffix.lower()[:8] or ".mp4"
                size = claim.input.size
                src = self.client.download_input(
                    claim,
                    workdir / f"input{suffix}",
                    moved=lambda done: beat.report(0, "download", transferred(done, size)),
                )
                dst = workdir / "result.mp4"
                outcome = self.run_engine(claim, src, dst, beat)
                if outcome.ok:
                    beat.report(100, "upload")
                    self.deliver(claim, dst, beat)
                    log.info("task finished in {:.1f} s", time.monotonic() - started)
                elif outcome.cancelled:
                    log.info("work stopped: {}", beat.reason or "draining")
                    if not beat.stop.is_set():  # drained, not cancelled: hand it back
                        self._fail(claim, "the executor shut down; the task goes back", True)
                else:
                    assert outcome.error is not None
                    log.error("engine failed: {}", outcome.error)
                    self._fail(claim, outcome.error, outcome.retryable, outcome.executor_fault)
        except LeaseLost:
            log.warning("the lease was lost: the work is dropped")
        except ExecutorFault as exc:
            log.error("this executor cannot work on it: {}", exc)
            self._fail(claim, str(exc), True, executor_fault=True)
        except AgentError as exc:
            log.error("task abandoned: {}", exc)
            self._fail(claim, str(exc), True)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _check_disk(self, input_size: int) -> None:
        free = shutil.disk_usage(self.settings.work_dir).free
        needed = input_size * DISK_FACTOR + DISK_MARGIN_BYTES
        if free < needed:
            raise ExecutorFault(
                f"not enough free disk in {self.settings.work_dir}: {free // 2**20} MiB free, "
                f"{needed // 2**20} MiB needed"
            )

    def run_engine(self, claim: ClaimResponse, src: Path, dst: Path, beat: Heartbeat) -> Outcome:
        """Runs until the engine ends; stops it on cancel or lease loss at once, and on drain
        once the drain timeout has passed; kills it when it hangs (see EngineProcess)."""
        drain_deadline: float | None = None

        def should_cancel() -> bool:
            nonlocal drain_deadline
            if self.draining.is_set() and drain_deadline is None:
                drain_deadline = time.monotonic() + self.settings.drain_timeout
            drained = drain_deadline is not None and time.monotonic() > drain_deadline
            return drained or beat.stop.is_set()

        outcome = self.engine.run(
            task_id=claim.task_id,
            src=src,
            dst=dst,
            options=claim.options,
            progress=beat.report,
            should_cancel=should_cancel,
            watch_every_s=WATCH_EVERY_S,
        )
        if outcome.ok and beat.stop.is_set():
            # finished just as the service took the task back: the upload would be refused
            raise LeaseLost(beat.reason or "lease lost")
        return outcome

    def deliver(self, claim: ClaimResponse, result: Path, beat: Heartbeat) -> None:
        size = result.stat().st_size
        ack = self.client.upload_result(
            claim.task_id,
            claim.lease_token,
            result,
            sha256_file(result),
            moved=lambda done: beat.report(100, "upload", transferred(done, size)),
        )
        logger.bind(task_id=claim.task_id).info(
            "result acknowledged: {} ({} bytes)", ack.status, ack.result.size
        )

    def _fail(
        self, claim: ClaimResponse, error: str, retryable: bool, executor_fault: bool = False
    ) -> None:
        try:
            answer = self.client.fail(
                claim.task_id,
                claim.lease_token,
                error,
                retryable=retryable,
                executor_fault=executor_fault,
            )
            logger.bind(task_id=claim.task_id).info("reported failure → {}", answer.status)
            self.cooldown_s = max(self.cooldown_s, answer.cooldown_s)
        except LeaseLost:
            pass  # the task is no longer ours to fail
        except AgentError as exc:
            logger.bind(task_id=claim.task_id).error("could not report the failure: {}", exc)


def transferred(done: int, size: int) -> str:
    """A transfer's progress in words: the heartbeat's evidence that it moves."""
    return f"{done / 2**20:.1f} of {size / 2**20:.1f} MiB"
