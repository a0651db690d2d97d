"""Alembic's entry: runs the migrations on the connection `service.runtime.migrate` hands it
(or, from the `alembic` command line, on `sqlalchemy.url`)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool
from sqlmodel import SQLModel

from service import models  # noqa: F401  (registers the tables)

# made outside the models: the log search's trigram index needs an extension that may be absent
UNMODELLED_INDEXES = {"ix_logs_message_trgm"}


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, _compare: Any) -> bool:
    return not (type_ == "index" and reflected and name in UNMODELLED_INDEXES)


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_object=include_object,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = engine_from_config(
        context.config.get_section(context.config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as own:
        run(own)
