"""The database: one async engine, short transactions, SQLite (WAL) or PostgreSQL.

On PostgreSQL the executor's hot paths (claim, heartbeat, result) also get a plain asyncpg
pool: one hand-written statement per request costs a fraction of the CPU SQLAlchemy's Core
layer spends building, caching and wrapping the same statement (see `service.tasks.postgres`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


class Database:
    """Owns the engine. Transactions are short: never held across a wait or a file transfer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = _make_engine(url)
        self.dialect = self.engine.dialect.name
        self.pool: asyncpg.Pool | None = None

    async def open_pool(self, *, max_size: int = 20) -> None:
        """The raw asyncpg pool for the hot paths (PostgreSQL only; SQLite has none), made with
        the connection arguments SQLAlchemy itself would use for this URL."""
        if not self.is_postgres or self.pool is not None:
            return
        self.pool = await asyncpg.create_pool(
            min_size=min(2, max_size),
            max_size=max_size,
            init=_json_codec,
            reset=_keep_session,
            **self._asyncpg_args(),
        )

    async def connect(self) -> asyncpg.Connection:
        """A raw asyncpg connection of its own (PostgreSQL only), e.g. to LISTEN on."""
        return await asyncpg.connect(**self._asyncpg_args())

    def _asyncpg_args(self) -> dict[str, Any]:
        _, kwargs = self.engine.dialect.create_connect_args(make_url(self.url))
        for sqlalchemy_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            kwargs.pop(sqlalchemy_only, None)
        return dict(kwargs)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One connection in one transaction, committed on success (Core statements only:
        the hot paths need no ORM unit of work)."""
        async with self.engine.begin() as connection:
            yield connection

    async def check(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        await self.engine.dispose()


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Hand a connection back without asyncpg's default reset query, a round trip per
    statement: the hot paths run single autocommit statements and never change session state
    (no SET, LISTEN, cursors or advisory locks); an open transaction is still rolled back."""


async def _json_codec(connection: asyncpg.Connection) -> None:
    # JSON columns in and out as Python objects, as SQLAlchemy's JSON type does
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


def _make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # no pre-ping: it costs a round trip per checkout; a dropped connection fails one
    # request and the pool replaces it
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
