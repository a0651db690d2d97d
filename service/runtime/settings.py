"""Service settings: `SORAWM_*` environment variables, a `.env` file, then CLI flags."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


PLACEHOLDER_TOKENS = frozenset({"change-me", "changeme", "secret", "token", "password"})
# the owner of what loopback submits without a token: no token may take its name (and tasks)
LOOPBACK_OWNER = "local"
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def parse_tokens(value: str | dict[str, str]) -> dict[str, str]:
    """`name:token,name2:token2` → {token: name}. The name is the tenant: every entry must
    have one, so tasks stay with their owner when other tokens are added or revoked."""
    if isinstance(value, dict):
        return value
    tokens: dict[str, str] = {}
    for index, item in enumerate(filter(None, (part.strip() for part in value.split(",")))):
        name, sep, token = item.partition(":")
        name = name.strip()
        if not sep or not name:
            # the token itself is never echoed: this message ends up in logs
            raise ValueError(
                f"token entry {index + 1} has no name: write name:token (the name owns the "
                "tasks, so it must not depend on the entry's position)"
            )
        if name.lower() == LOOPBACK_OWNER:
            raise ValueError(
                f"token name {name!r} is reserved for loopback requests without a token: "
                "choose another name"
            )
        if not token:
            raise ValueError(f"token entry {item!r} has an empty token")
        if token.lower() in PLACEHOLDER_TOKENS:
            raise ValueError(f"the token of {name!r} is a placeholder ({token!r}): set a real one")
        tokens[token] = name
    return tokens


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SORAWM_", env_file=".env", extra="ignore")

    # loopback by default: a newcomer's bare `python -m service` is reachable from this
    # machine only; facing the network is a deliberate --host 0.0.0.0 (with tokens)
    host: str = "127.0.0.1"
    port: int = Field(default=5344, ge=1, le=65535)
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file inside data_dir
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1)
    lease_seconds: float = Field(default=30.0, ge=0.5, le=3600)
    max_attempts: int = Field(default=3, ge=1, le=100)
    retention_days: float = Field(default=7.0, ge=0)
    log_retention_days: float = Field(default=30.0, ge=0)
    # how often retention (files, log records, abandoned uploads) runs
    retention_interval_s: float = Field(default=60.0, gt=0)
    # how often one replica sweeps expired leases and polls for work queued elsewhere
    maintenance_interval_s: float = Field(default=1.0, gt=0, le=60)
    # an idle executor long-polls up to 30 s between calls: offline only past that
    executor_offline_after_s: float = Field(default=45.0, gt=0)
    # an executor that reports a fault of its own (disk, memory, device) gets no task for
    # this long, doubled with each fault in a row up to the maximum
    executor_cooldown_s: float = Field(default=30.0, ge=0)
    executor_cooldown_max_s: float = Field(default=900.0, ge=0)
    # a task handed back by this many executor faults ends in ERROR (it is not the executors)
    executor_fault_limit: int = Field(default=5, ge=1, le=100)
    # a running task whose progress (percent, stage or message) has not moved for this long,
    # though its executor beats, is taken back like an expired lease (0: never)
    stall_timeout_s: float = Field(default=1800.0, ge=0)
    # on SIGTERM, how long requests in flight (uploads, downloads, long polls) may go on
    shutdown_timeout_s: float = Field(default=30.0, ge=0)
    # a JSON body (not an upload) must arrive whole within this, however it trickles (408)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # an UPLOADING task older than this was cut off (client or replica gone)
    upload_timeout_s: float = Field(default=3600.0, gt=0)
    # live streams (task events, the admin's log tail) open at once, per caller and in all;
    # one watcher per process wakes them, looking this often while any is open
    max_streams: int = Field(default=256, ge=1)
    max_streams_per_caller: int = Field(default=16, ge=1)
    stream_tick_s: float = Field(default=0.5, gt=0, le=10)
    client_tokens: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    executor_tokens: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    admin_tokens: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    loopback_exempt: bool = True
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    # Host header values answered (port ignored) besides localhost, 127.0.0.1, [::1] and the
    # bind address; "*" answers any (a public service behind tokens). Stops DNS rebinding.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"

    @field_validator("client_tokens", "executor_tokens", "admin_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: str | dict[str, str]) -> dict[str, str]:
        return parse_tokens(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: str | list[str]) -> list[Network]:
        items = value.split(",") if isinstance(value, str) else value
        return [
            ipaddress.ip_network(str(item).strip(), strict=False)
            for item in items
            if str(item).strip()
        ]

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: str | list[str]) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        return [str(item).strip().lower().strip("[]") for item in items if str(item).strip()]

    @cached_property
    def host_names(self) -> frozenset[str] | None:
        """The Host values answered (lower case, no port, IPv6 without brackets); None: any."""
        if "*" in self.allowed_hosts:
            return None
        # loopback names always: a rebinding page arrives under its own name, never these
        bound = {self.host.strip("[]").lower()} - WILDCARD_BINDS
        return frozenset(LOOPBACK_HOSTS) | bound | set(self.allowed_hosts)

    @property
    def has_tokens(self) -> bool:
        return bool(self.client_tokens or self.executor_tokens or self.admin_tokens)

    def unsafe_exposure(self) -> str | None:
        """Why these settings must not serve, or None. A public bind with the loopback
        exemption and no tokens: only this machine can use it, and a reverse proxy here would
        make every visitor a loopback admin."""
        try:
            public = not ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            public = self.host.lower() != "localhost"
        if public and self.loopback_exempt and not self.has_tokens:
            return (
                f"listening on {self.host} with SORAWM_LOOPBACK_EXEMPT on and no tokens: bind "
                "127.0.0.1 (--host 127.0.0.1), or set SORAWM_CLIENT_TOKENS / "
                "SORAWM_EXECUTOR_TOKENS / SORAWM_ADMIN_TOKENS, or SORAWM_LOOPBACK_EXEMPT=false"
            )
        return None

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sorawm.db').resolve()}"

    @property
    def heartbeat_s(self) -> float:
        """Executors beat three times per lease, so one lost beat never costs the lease."""
        return self.lease_seconds / 3
