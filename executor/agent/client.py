"""The service's executor API over HTTP: every call retried through network trouble.

Network errors, 5xx and 429 are retried with capped exponential backoff and jitter; a 409
means the lease is no longer ours (`LeaseLost`); any other 4xx is `Rejected` (a bug or a
wrong token: retrying would not help).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from loguru import logger

from executor.agent.retry import Backoff
from executor.agent.settings import ExecutorSettings
from shared.contract import (
    Capabilities,
    ClaimRequest,
    ClaimResponse,
    FailRequest,
    FailResponse,
    Headers,
    HeartbeatRequest,
    HeartbeatResponse,
    LogBatch,
    LogRecordIn,
    ResultAck,
    Routes,
)

CHUNK = 1024 * 1024
DOWNLOAD_TRIES = 3


class AgentError(Exception):
    """The agent could not do that."""


class LeaseLost(AgentError):
    """The service says this task's lease is no longer ours (409)."""


class Rejected(AgentError):
    """The service refused the request (a 4xx other than 409)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        super().__init__(
            f"{response.request.method} {response.request.url.path} → "
            f"{response.status_code}: {detail}"
        )


class Malformed(AgentError):
    """The service's answer does not follow the contract."""


class ExecutorFault(AgentError):
    """This executor cannot work right now (its disk, its memory): not the task's fault."""


class GaveUp(AgentError):
    """Retried for as long as allowed; the service did not answer."""


class Unreachable(AgentError):
    """One try failed on the network or with a 5xx (raised by single-try calls)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _transient(response: httpx.Response) -> bool:
    return response.status_code >= 500 or response.status_code == 429


class ServiceClient:
    def __init__(self, settings: ExecutorSettings, *, halt: threading.Event | None = None) -> None:
        headers = {"User-Agent": f"et_sorawm/{settings.executor_id}"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        self.settings = settings
        self.executor_id = settings.executor_id
        # `halt` cuts retry waits short when the process must stop at once
        self.halt = halt or threading.Event()
        self.http = httpx.Client(
            base_url=settings.service_host,
            headers=headers,
            timeout=httpx.Timeout(30.0, read=settings.poll_wait + 30.0),
        )

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ retry machinery

    def _sleep(self, backoff: Backoff, what: str, problem: object) -> None:
        delay = backoff.next_delay()
        logger.warning("{} failed ({}); retrying in {:.1f} s", what, problem, delay)
        if self.halt.wait(delay):
            raise GaveUp(f"{what}: stopped while retrying")

    def _retrying(
        self, what: str, send: Callable[[], httpx.Response], *, patience: float | None = None
    ) -> httpx.Response:
        """`send()` until it gets a non-transient answer; GaveUp past `patience` seconds."""
        backoff = Backoff(cap=self.settings.retry_cap)
        deadline = None if patience is None else time.monotonic() + patience
        while True:
            try:
                response = send()
                if not _transient(response):
                    return response
                problem: object = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
            if deadline is not None and time.monotonic() > deadline:
                raise GaveUp(f"{what}: no answer from the service for {patience:.0f} s")
            self._sleep(backoff, what, problem)

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.status_code == 409:
            raise LeaseLost(response.json().get("detail", "lease lost"))
        if response.is_client_error:
            raise Rejected(response)
        return response

    # ------------------------------------------------------------ the protocol

    def claim(self, capabilities: Capabilities, wait_s: float) -> ClaimResponse | None:
        body = ClaimRequest(executor_id=self.executor_id, capabilities=capabilities, wait_s=wait_s)
        response = self._check(
            self._retrying(
                "claim", lambda: self.http.post(Routes.CLAIM, json=body.model_dump(mode="json"))
            )
        )
        if response.status_code == 204:
            return None
        try:
            return ClaimResponse.model_validate(response.json())
        except ValueError as exc:  # not JSON, or not a claim (pydantic's ValidationError)
            raise Malformed(f"the service's claim answer is malformed: {exc}") from exc

    def heartbeat(
        self, task_id: str, lease_token: str, *, progress: float, stage: str, message: str | None
    ) -> HeartbeatResponse:
        """One try: the heartbeat thread decides when to try again."""
        body = HeartbeatRequest(
            lease_token=lease_token, progress=progress, stage=stage, message=message
        )
        try:
            response = self.http.post(
                Routes.HEARTBEAT.format(task_id=task_id), json=body.model_dump(mode="json")
            )
        except httpx.TransportError as exc:
            raise Unreachable(f"heartbeat: {exc.__class__.__name__}") from exc
        if _transient(response):
            raise Unreachable(f"heartbeat: HTTP {response.status_code}")
        try:
            return HeartbeatResponse.model_validate(self._check(response).json())
        except ValueError as exc:
            raise Malformed(f"the service's heartbeat answer is malformed: {exc}") from exc

    def download_input(
        self, claim: ClaimResponse, dest: Path, *, moved: Callable[[int], None] | None = None
    ) -> Path:
        """Streams the input to `dest`, resuming by `Range` after a cut; sha256 checked.
        `moved(bytes received)` is told as it goes (the heartbeat's evidence of progress)."""
        part = dest.with_name(dest.name + ".part")
        for _ in range(DOWNLOAD_TRIES):
            self._fetch(claim, part, moved)
            if sha256_file(part) == claim.input.sha256:
                part.replace(dest)
                return dest
            logger.warning("downloaded input does not match its sha256; downloading again")
            part.unlink()
        raise AgentError(f"the input failed its sha256 check {DOWNLOAD_TRIES} times")

    def _on_service(self, url: str) -> str:
        """`url` on the service (a path is taken under `--service-host`, as every call is);
        AgentError when it leads anywhere else: the lease and bearer tokens go only there."""
        base = self.http.base_url
        target = httpx.URL(url)
        if target.is_relative_url:
            return url  # merged with `--service-host` by the client, as every call is
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise AgentError(
                f"the claim's input URL {url} is not on the service's origin "
                f"{base.scheme}://{base.netloc.decode()}: not followed"
            )
        return url

    def _fetch(self, claim: ClaimResponse, part: Path, moved: Callable[[int], None] | None) -> None:
        backoff = Backoff(cap=self.settings.retry_cap)
        url = claim.input.url
        while True:
            offset = part.stat().st_size if part.exists() else 0
            if offset >= claim.input.size:
                return
            headers = {Headers.LEASE_TOKEN: claim.lease_token}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            try:
                with self.http.stream("GET", self._on_service(url), headers=headers) as response:
                    if _transient(response):
                        self._sleep(backoff, "input download", f"HTTP {response.status_code}")
                        continue
                    self._check(response)
                    mode = "ab" if response.status_code == 206 else "wb"
                    try:
                        with part.open(mode) as file:
                            for chunk in response.iter_bytes(CHUNK):
                                file.write(chunk)
                                if moved is not None:
                                    moved(file.tell())
                    except OSError as exc:  # disk full, a broken work dir
                        raise ExecutorFault(
                            f"cannot store the input in {part.parent}: {exc}"
                        ) from exc
                return
            except httpx.TransportError as exc:
                # what arrived stays in the .part file: the next try asks for the rest
                self._sleep(backoff, "input download", exc.__class__.__name__)

    def upload_result(
        self,
        task_id: str,
        lease_token: str,
        path: Path,
        sha256: str,
        *,
        moved: Callable[[int], None] | None = None,
    ) -> ResultAck:
        """Streams the result; retried until the service acknowledges it (the same upload
        again is answered 200), so a finished result is never thrown away before that.
        `moved(bytes sent)` is told as it goes (the heartbeat's evidence of progress)."""
        headers = {
            Headers.LEASE_TOKEN: lease_token,
            Headers.CONTENT_SHA256: sha256,
            "Content-Type": "video/mp4",
        }
        url = Routes.TASK_RESULT.format(task_id=task_id)

        def chunks() -> Iterator[bytes]:
            sent = 0
            with path.open("rb") as file:
                while chunk := file.read(CHUNK):
                    sent += len(chunk)
                    if moved is not None:
                        moved(sent)
                    yield chunk

        def send() -> httpx.Response:
            size = str(path.stat().st_size)
            return self.http.put(url, content=chunks(), headers=headers | {"Content-Length": size})

        response = self._check(
            self._retrying("result upload", send, patience=self.settings.upload_patience)
        )
        return ResultAck.model_validate(response.json())

    def fail(
        self,
        task_id: str,
        lease_token: str,
        error: str,
        *,
        retryable: bool,
        executor_fault: bool = False,
    ) -> FailResponse:
        body = FailRequest(
            lease_token=lease_token,
            error=error[:4000],
            retryable=retryable,
            executor_fault=executor_fault,
        )
        response = self._retrying(
            "fail report",
            lambda: self.http.post(
                Routes.FAIL.format(task_id=task_id), json=body.model_dump(mode="json")
            ),
            patience=self.settings.retry_cap * 5,
        )
        return FailResponse.model_validate(self._check(response).json())

    def post_logs(self, records: list[dict[str, Any]]) -> None:
        """One try (the log shipper keeps what did not go)."""
        batch = LogBatch(
            executor_id=self.executor_id,
            records=[LogRecordIn.model_validate(record) for record in records],
        )
        try:
            response = self.http.post(Routes.LOGS, json=batch.model_dump(mode="json"))
        except httpx.TransportError as exc:
            raise Unreachable(f"logs: {exc.__class__.__name__}") from exc
        if _transient(response):
            raise Unreachable(f"logs: HTTP {response.status_code}")
        self._check(response)
