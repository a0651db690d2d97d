"""A throw-away PostgreSQL server for a benchmark run (fsync ON: the server's defaults).

    with pg_server() as url:   # postgresql+asyncpg://postgres@127.0.0.1:PORT/bench
        ...

`initdb` refuses to run as root, so when we are root every server command runs as the
`postgres` user (`runuser -u postgres --`) on a directory chowned to it. The server is
stopped with `pg_ctl stop -m fast` and its directory removed when the block exits.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_bin_dir() -> Path:
    if (DEFAULT_BIN / "postgres").exists():
        return DEFAULT_BIN
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PgServer:
    def __init__(self, *, max_connections: int = 300, database: str = "bench") -> None:
        self.bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="sorawm-bench-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "server.log"
        self.port = free_port()
        self.database = database
        self.max_connections = max_connections
        self.as_postgres = os.geteuid() == 0
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float = 120) -> str:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if self.as_postgres:
            for path in (self.root, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        # fsync, synchronous_commit, full_page_writes: left at their (safe) defaults
        options = (
            f"-p {self.port} -k {self.socket_dir} -h 127.0.0.1 "
            f"-c max_connections={self.max_connections}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "start",
        )
        pid_file = self.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            self.pid = int(pid_file.read_text().split()[0])
        self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f'CREATE DATABASE "{self.database}"',
        )

    def setting(self, name: str) -> str:
        out = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-At",
            "-c",
            f"SHOW {name}",
        )
        return out.strip()

    def stop(self) -> None:
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def pg_server(**kwargs: object) -> Iterator[str]:
    """Yields the SQLAlchemy URL of a fresh database on a fresh local server."""
    server = PgServer(**kwargs)  # type: ignore[arg-type]
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


if __name__ == "__main__":
    with pg_server() as url:
        print(url)
