"""Usage records (domain/usage.py): immutable, one row per metered interval of an attempt, keyed by
(job, attempt, interval start). Attempts keep what they hold per node (accelerator model and
count), so that their records never depend on the job's placement of the moment.

Attempts still live when this runs are the current attempts of their jobs, whose placement is
theirs: they take it from there. Attempts that had ended keep NULL; they are never metered.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LIVE = ("ASSIGNED", "RUNNING")


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("accelerator", sa.String(64)))
        batch.add_column(sa.Column("accelerators_per_node", sa.Integer))
    op.create_index("ix_attempts_state", "attempts", ["state"])
    attempts = sa.table(
        "attempts",
        sa.column("job_id"),
        sa.column("number"),
        sa.column("state"),
        sa.column("accelerator"),
        sa.column("accelerators_per_node"),
    )
    jobs = sa.table(
        "jobs", sa.column("id"), sa.column("attempts"), sa.column("accelerator"), sa.column("accelerators_per_node")
    )
    placed = sa.and_(jobs.c.id == attempts.c.job_id, jobs.c.attempts == attempts.c.number)
    op.execute(
        sa.update(attempts)
        .where(attempts.c.state.in_(_LIVE))
        .values(
            accelerator=sa.select(jobs.c.accelerator).where(placed).scalar_subquery(),
            accelerators_per_node=sa.select(jobs.c.accelerators_per_node).where(placed).scalar_subquery(),
        )
    )
    op.create_table(
        "usage_records",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("center", sa.String(63), nullable=False),
        sa.Column("center_organization", sa.String(63), nullable=False),
        sa.Column("pool", sa.String(63), nullable=False),
        sa.Column("accelerator", sa.String(64), nullable=False),
        sa.Column("accelerators", sa.Integer, nullable=False),
        sa.Column("cpus", sa.Integer, nullable=False),
        sa.Column("memory_gb", sa.Float, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("job_id", "attempt", "interval_start", name="uq_usage_records_interval"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_usage_records_organization_end", "usage_records", ["organization", "interval_end"])
    op.create_index("ix_usage_records_center_end", "usage_records", ["center", "interval_end"])
    op.create_index("ix_usage_records_supplier_end", "usage_records", ["center_organization", "interval_end"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_supplier_end", table_name="usage_records")
    op.drop_index("ix_usage_records_center_end", table_name="usage_records")
    op.drop_index("ix_usage_records_organization_end", table_name="usage_records")
    op.drop_table("usage_records")
    op.drop_index("ix_attempts_state", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("accelerators_per_node")
        batch.drop_column("accelerator")
