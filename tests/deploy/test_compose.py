"""The compose file and the Dockerfiles, checked with the real tools (no daemon needed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose_config(env_file: Path) -> dict[str, Any]:
    compose = shutil.which("docker-compose")
    assert compose, "Debian's docker-compose is not installed: run scripts/setup --dev"
    result = subprocess.run(
        [compose, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return compose_config(ROOT / ".env.example")


def test_compose_file_is_valid_with_the_example_env(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {"postgres", "service", "executor"}


def test_postgres_keeps_its_data_in_a_volume_and_has_a_health_check(config: dict[str, Any]) -> None:
    postgres = config["services"]["postgres"]
    assert any("/var/lib/postgresql/data" in str(volume) for volume in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_service_waits_for_a_healthy_database_and_publishes_5344(config: dict[str, Any]) -> None:
    service = config["services"]["service"]
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert any(str(port.get("target", port)).endswith("5344") for port in service["ports"])
    assert service["environment"]["SORAWM_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "/health" in " ".join(service["healthcheck"]["test"])
    assert any("/data" in str(volume) for volume in service["volumes"])


def test_executor_reserves_an_nvidia_gpu_and_names_each_replica(config: dict[str, Any]) -> None:
    executor = config["services"]["executor"]
    devices = executor["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert executor["environment"]["SORAWM_ID"] == "auto"
    assert executor["environment"]["SORAWM_SERVICE_HOST"] == "http://service:5344/"
    # a replica must not bind a fixed host port or container name, or --scale would fail
    assert "ports" not in executor and "container_name" not in executor


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    compose = shutil.which("docker-compose")
    assert compose
    result = subprocess.run(
        [compose, "--env-file", str(empty), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_example_env_placeholders_are_refused_by_the_service() -> None:
    env = {"SORAWM_CLIENT_TOKENS": "alice:change-me", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "service", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0  # --help needs no settings
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from service.runtime.settings import ServiceSettings; ServiceSettings()",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode != 0
    assert "placeholder" in result.stderr


@pytest.mark.parametrize("dockerfile", ["docker/service.Dockerfile", "docker/executor.Dockerfile"])
def test_dockerfile_passes_hadolint(dockerfile: str) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
