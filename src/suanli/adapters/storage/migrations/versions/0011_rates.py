"""Prices: the ``rates`` table (domain/pricing.py), one row per effective-dated rate of a pool.

Amounts are integers of ten-thousandths (tables.ScaledDecimal(4)): exact on SQLite, whose
decimals would go through floats, and on PostgreSQL alike.

Existing pools get no rows here: each pool's first rate is made from its declared price when its
center's pools are next set (an agent's hello, `suanli center pools`), or by the housekeeping of
the scheduler loop (PricingService.apply_due) at the server's start.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rates",
        sa.Column("center", sa.String(63), primary_key=True),
        sa.Column("pool", sa.String(63), primary_key=True),
        sa.Column("effective_from", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("per_accelerator_hour", sa.BigInteger(), nullable=False),
        sa.Column("per_cpu_hour", sa.BigInteger(), nullable=False),
        sa.Column("per_gb_hour", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
    )
    op.create_index("ix_rates_effective_from", "rates", ["effective_from"])


def downgrade() -> None:
    op.drop_index("ix_rates_effective_from", table_name="rates")
    op.drop_table("rates")
