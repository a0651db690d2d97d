"""Fixtures for every test: a PostgreSQL server, the live service on each backend, tiny videos.

The API tests run twice through the `backend` parametrization: `sqlite` (the service's
default SQLite file in its data dir) and `postgres` (a fresh database on a real server).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.fixtures.browser import chromium
from tests.fixtures.executor import ScriptedExecutor
from tests.fixtures.live_service import LiveService, ServicePool
from tests.fixtures.postgres import PostgresServer, find_bin_dir
from tests.fixtures.videos import write_video
from tools.synth.clip import ClipFiles, ClipSpec, generate_clip

SERVICES_KEY = pytest.StashKey[list[LiveService]]()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        find_bin_dir()
    except RuntimeError as exc:  # scripts/setup --dev installs it: its absence is a failure
        pytest.fail(str(exc))
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_database(backend: str, request: pytest.FixtureRequest) -> Callable[[], str]:
    """A maker of fresh database URLs; empty for SQLite: `sorawm.db` in the data dir."""
    if backend == "sqlite":
        return lambda: ""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database


@pytest.fixture(scope="session")
def service_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServicePool]:
    pool = ServicePool(tmp_path_factory.mktemp("services"))
    yield pool
    pool.close()


ServiceFactory = Callable[..., LiveService]


@pytest.fixture
def service(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    service_pool: ServicePool,
    backend: str,
    new_database: Callable[[], str],
) -> Iterator[ServiceFactory]:
    """`service(SORAWM_LEASE_SECONDS="1", …)` → a started service of its own (data dir, fresh
    database, `.workdir` holding both and its log); killed at teardown."""
    started: list[LiveService] = []
    request.node.stash[SERVICES_KEY] = started

    def start(**env: str) -> LiveService:
        live = service_pool.take(backend, env, new_database)
        started.append(live)
        link = tmp_path / ("service" if len(started) == 1 else f"service{len(started)}")
        link.symlink_to(live.workdir, target_is_directory=True)  # its data dir and log, at hand
        return live

    yield start
    for live in started:
        live.kill()


@pytest.fixture
def live(service: ServiceFactory) -> LiveService:
    """The service with its default settings (loopback needs no token)."""
    return service()


@pytest.fixture(scope="session")
def video_cache(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Each distinct video is encoded once per session."""
    root = tmp_path_factory.mktemp("video-cache")
    made: dict[tuple[tuple[str, object], ...], Path] = {}

    def get(**kwargs: object) -> Path:
        key = tuple(sorted(kwargs.items()))
        if key not in made:
            made[key] = write_video(root / f"v{len(made)}.mp4", **kwargs)  # type: ignore[arg-type]
        return made[key]

    return get


@pytest.fixture
def make_video(tmp_path: Path, video_cache: Callable[..., Path]) -> Callable[..., Path]:
    """`make_video(name="in.mp4", width=64, height=48, frames=12, fps=24, audio=False, seed=0)`:
    a tiny real H.264 mp4 in the test's folder. Each call differs unless `seed` is given."""
    counter = iter(range(10_000))

    def make(name: str | None = None, **kwargs: object) -> Path:
        index = next(counter)
        kwargs.setdefault("seed", index)
        path = tmp_path / "videos" / (name or f"video{index}.mp4")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video_cache(**kwargs), path)
        return path

    return make


@pytest.fixture
def video(make_video: Callable[..., Path]) -> Path:
    return make_video("input.mp4", audio=True)


@pytest.fixture
def result_bytes(make_video: Callable[..., Path]) -> bytes:
    """A real (different) video that executors upload as their result."""
    return make_video("result.mp4", width=64, height=48, frames=12, seed=999).read_bytes()


@pytest.fixture
def make_executor(live: LiveService) -> Iterator[Callable[..., ScriptedExecutor]]:
    made: list[ScriptedExecutor] = []

    def make(executor_id: str = "ET-SoraWM-1", token: str | None = None) -> ScriptedExecutor:
        executor = ScriptedExecutor(live.url, executor_id, token=token)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.close()


@pytest.fixture
def http(live: LiveService) -> Iterator[object]:
    with live.client() as client:
        yield client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test shows the log of every service process it started."""
    report = yield
    if report.failed:
        for index, live in enumerate(item.stash.get(SERVICES_KEY, [])):
            report.sections.append((f"service log {index + 1} ({live.url})", live.log()))
    return report


# ------------------------------------------------------------------ synthetic clips, browser

# seeds ≥ 1_000_000 are never used for training the detector
CLIP_SEED = 1_000_123


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def make_clip(clip_dir: Path) -> Callable[..., ClipFiles]:
    """A watermarked synthetic clip (cached per arguments for the session)."""
    made: dict[tuple[int, float, bool], ClipFiles] = {}

    def make(index: int = 0, *, seconds: float = 2.0, audio: bool = True) -> ClipFiles:
        key = (index, seconds, audio)
        if key not in made:
            spec = ClipSpec(width=320, height=180, seconds=seconds, fps=24, audio=audio)
            made[key] = generate_clip(
                clip_dir / f"{index}-{seconds}-{audio}", CLIP_SEED, index, spec
            )
        return made[key]

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    with chromium() as browser:
        yield browser
