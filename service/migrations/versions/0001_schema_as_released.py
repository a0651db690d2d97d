"""The schema as released (December 2026): tasks, executors, log records.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from loguru import logger

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    time = sa.DateTime(timezone=True)
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", time, nullable=True),
        sa.Column("executor_id", sa.String(128), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("input_filename", sa.String(), nullable=True),
        sa.Column("input_path", sa.String(), nullable=True),
        sa.Column("input_size", sa.BigInteger(), nullable=True),
        sa.Column("input_sha256", sa.String(64), nullable=True),
        sa.Column("input_meta", sa.JSON(), nullable=False),
        sa.Column("result_path", sa.String(), nullable=True),
        sa.Column("result_size", sa.BigInteger(), nullable=True),
        sa.Column("result_sha256", sa.String(64), nullable=True),
        sa.Column("files_purged", sa.Boolean(), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.Column("updated_at", time, nullable=False),
        sa.Column("started_at", time, nullable=True),
        sa.Column("finished_at", time, nullable=True),
    )
    op.create_index("ix_tasks_owner_created", "tasks", ["owner", "created_at"])
    op.create_index("ix_tasks_status_created", "tasks", ["status", "created_at"])
    op.create_index("ix_tasks_status_lease", "tasks", ["status", "lease_expires_at"])

    op.create_table(
        "executors",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("capabilities", sa.JSON(), nullable=True),
        sa.Column("last_seen", time, nullable=False),
        sa.Column("current_task_id", sa.String(32), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
    )

    op.create_table(
        "log_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ts", time, nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("levelno", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("executor_id", sa.String(128), nullable=True),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_logs_executor_id", "log_records", ["executor_id", "id"])
    op.create_index("ix_logs_levelno_id", "log_records", ["levelno", "id"])
    op.create_index("ix_logs_task_id", "log_records", ["task_id", "id"])
    op.create_index("ix_logs_ts", "log_records", ["ts"])
    if op.get_bind().dialect.name == "postgresql":
        trigram_index()


def trigram_index() -> None:
    """The log viewer's text search (`lower(message) LIKE '%…%'`) stays on an index over
    millions of lines only with pg_trgm; without the extension it still works, by scan."""
    bind = op.get_bind()
    savepoint = bind.begin_nested()  # a failure here must not abort the migration
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        bind.execute(
            sa.text(
                "CREATE INDEX IF NOT EXISTS ix_logs_message_trgm ON log_records "
                "USING gin (lower(message) gin_trgm_ops)"
            )
        )
        savepoint.commit()
    except sa.exc.SQLAlchemyError as exc:
        savepoint.rollback()
        logger.warning("no trigram index for log search ({}): text filters will scan", exc)


def downgrade() -> None:
    op.drop_table("log_records")
    op.drop_table("executors")
    op.drop_table("tasks")
