"""The ledger: transactions (idempotent by key, never updated or deleted), their entries in fen,
and the rater's progress through the usage records.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_transactions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("reverses", sa.String(200)),
        sa.Column("usage_id", sa.BigInteger()),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("key", name="uq_ledger_transactions_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ledger_transactions_at", "ledger_transactions", ["at"])
    op.create_index("ix_ledger_transactions_usage_id", "ledger_transactions", ["usage_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("transaction_id", _ID, sa.ForeignKey("ledger_transactions.id"), primary_key=True),
        sa.Column("account", sa.String(300), primary_key=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ledger_entries_account_at", "ledger_entries", ["account", "at"])
    op.create_table(
        "rating_progress",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("last_usage_id", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rating_progress")
    op.drop_index("ix_ledger_entries_account_at", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_ledger_transactions_usage_id", table_name="ledger_transactions")
    op.drop_index("ix_ledger_transactions_at", table_name="ledger_transactions")
    op.drop_table("ledger_transactions")
