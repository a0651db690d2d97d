"""Executor faults: a task counts the executors that could not run it; an executor its faults
in a row and when its cool-down ends.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    zero = sa.text("0")
    with op.batch_alter_table("tasks") as tasks:
        tasks.add_column(
            sa.Column("executor_faults", sa.Integer(), nullable=False, server_default=zero)
        )
    with op.batch_alter_table("executors") as executors:
        executors.add_column(sa.Column("faults", sa.Integer(), nullable=False, server_default=zero))
        executors.add_column(sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True))
        executors.add_column(sa.Column("last_fault", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executors") as executors:
        executors.drop_column("last_fault")
        executors.drop_column("cooldown_until")
        executors.drop_column("faults")
    with op.batch_alter_table("tasks") as tasks:
        tasks.drop_column("executor_faults")
