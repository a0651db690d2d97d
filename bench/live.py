"""The real service in a subprocess for a benchmark: `python -m service --host --port
--data-dir [--database-url]`, started with the given `SORAWM_*` environment, ready once
`GET /health` answers 200, stopped (SIGTERM, then SIGKILL) when the block exits.

    with live_service(workdir, database_url=url, env={"SORAWM_LOG_LEVEL": "WARNING"}) as svc:
        svc.url, svc.pid
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from pgserver import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0


class LiveService:
    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str = "",
        env: dict[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.database_url = database_url
        self.env = dict(env or {})
        self.python = python
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "service.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "service", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        return cmd

    def start(self) -> LiveService:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith("SORAWM_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        with self.log_path.open("ab") as log:
            # cwd is the run's own folder, so no `.env` of the repository is read
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_raise_nofile,
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(f"the service exited with {code} while starting:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"no 200 from /health in {START_TIMEOUT_S} s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except FileNotFoundError:
            return "(no service log)"


def _raise_nofile() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@contextlib.contextmanager
def live_service(
    workdir: Path, *, database_url: str = "", env: dict[str, str] | None = None
) -> Iterator[LiveService]:
    service = LiveService(workdir, database_url=database_url, env=env)
    try:
        service.start()
        yield service
    finally:
        service.stop()
