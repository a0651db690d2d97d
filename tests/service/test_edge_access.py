"""Who may reach the service at all: the Host it answers for, browsers on other origins, the
settings it refuses to serve with, and tenants that stay put when tokens change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from service.runtime.settings import ServiceSettings
from shared.contract import Routes
from tests.fixtures.client import list_all, submit
from tests.fixtures.live_service import REPO_ROOT, LiveService
from tests.fixtures.net import free_port


def test_an_unknown_host_is_400_naming_the_setting(live: LiveService) -> None:
    with live.client() as http:
        response = http.get(Routes.TASKS, headers={"Host": "rebound.attacker.example"})
    assert response.status_code == 400
    assert "SORAWM_ALLOWED_HOSTS" in response.json()["detail"]


def test_loopback_names_are_answered_by_default(live: LiveService) -> None:
    with live.client() as http:
        for host in (f"localhost:{live.port}", f"127.0.0.1:{live.port}", f"[::1]:{live.port}"):
            assert http.get(Routes.TASKS, headers={"Host": host}).status_code == 200, host


def test_a_listed_host_is_answered(service) -> None:
    live = service(SORAWM_ALLOWED_HOSTS="fleet.example.org")
    with live.client() as http:
        response = http.get(Routes.HEALTH, headers={"Host": "fleet.example.org:5344"})
    assert response.status_code == 200


def test_a_cross_site_browser_post_is_403_and_changes_nothing(
    live: LiveService, video: Path
) -> None:
    with httpx.Client(base_url=live.url, headers={"Sec-Fetch-Site": "cross-site"}) as browser:
        response = submit(browser, video)
    assert response.status_code == 403
    with live.client() as http:
        assert list_all(http) == []


def test_a_post_from_another_origin_is_403(live: LiveService, video: Path) -> None:
    with httpx.Client(base_url=live.url, headers={"Origin": "http://evil.example"}) as browser:
        assert submit(browser, video).status_code == 403


def test_a_post_from_the_same_origin_is_served(live: LiveService, video: Path) -> None:
    same = {"Origin": live.url, "Sec-Fetch-Site": "same-origin"}
    with httpx.Client(base_url=live.url, headers=same) as browser:
        assert submit(browser, video).status_code == 201


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Starts `python -m service` expecting it to exit: a service that serves is killed."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SORAWM_")}
    clean.update(env, PYTHONPATH=str(REPO_ROOT))
    command = [sys.executable, "-m", "service", "--port", str(free_port()), *args]
    command += ["--data-dir", str(tmp_path / "data")]
    try:
        return subprocess.run(
            command, cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the service started serving instead of refusing to start")


def test_public_bind_with_the_exemption_and_no_tokens_refuses_to_start(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--host", "0.0.0.0")
    assert result.returncode != 0
    assert "refusing to start" in result.stderr
    assert "--host 127.0.0.1" in result.stderr


def test_a_token_without_a_name_refuses_to_start(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--host", "127.0.0.1", SORAWM_CLIENT_TOKENS="alice:ta,bare-token")
    assert result.returncode != 0
    assert "entry 2 has no name" in result.stderr
    assert "bare-token" not in result.stderr


def test_a_token_named_like_the_loopback_owner_is_refused() -> None:
    with pytest.raises(ValidationError, match="reserved for loopback"):
        ServiceSettings(client_tokens="local:tok-l")  # type: ignore[arg-type]


def test_loopback_bind_with_the_exemption_and_no_tokens_is_safe() -> None:
    assert ServiceSettings(host="127.0.0.1").unsafe_exposure() is None


def test_a_bare_start_listens_on_loopback_only_and_is_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A newcomer's `python -m service` with no options faces this machine only."""
    for key in [k for k in os.environ if k.startswith("SORAWM_")]:
        monkeypatch.delenv(key)
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.host == "127.0.0.1"
    assert settings.unsafe_exposure() is None
