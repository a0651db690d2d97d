"""A submit's `Idempotency-Key`, unique per owner, so a retried submit returns the first task.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as tasks:
        tasks.add_column(sa.Column("idempotency_key", sa.String(length=128), nullable=True))
        tasks.create_index("ux_tasks_owner_idempotency", ["owner", "idempotency_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as tasks:
        tasks.drop_index("ux_tasks_owner_idempotency")
        tasks.drop_column("idempotency_key")
