"""Agents: center tokens (hashed), attempts with their fencing numbers, centers' last_seen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("centers") as batch:
        batch.add_column(sa.Column("last_seen", _time(), nullable=True))
    op.create_table(
        "center_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("center", sa.String(63), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
    )
    op.create_index("ix_center_tokens_center", "center_tokens", ["center"])
    op.create_table(
        "attempts",
        sa.Column("job_id", _ID, primary_key=True, autoincrement=False),
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("center", sa.String(63), nullable=False),
        sa.Column("pool", sa.String(63), nullable=False),
        sa.Column("node_indices", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("started_at", _time(), nullable=True),
        sa.Column("ended_at", _time(), nullable=True),
    )
    op.create_index("ix_attempts_center_state", "attempts", ["center", "state"])


def downgrade() -> None:
    op.drop_index("ix_attempts_center_state", table_name="attempts")
    op.drop_table("attempts")
    op.drop_index("ix_center_tokens_center", table_name="center_tokens")
    op.drop_table("center_tokens")
    with op.batch_alter_table("centers") as batch:
        batch.drop_column("last_seen")
