"""Initial schema: centers, jobs, scheduler_cycles.

Revision ID: 0001
Revises:
Create Date: 2025-11-28

Migrations are frozen history: they spell out their types instead of importing tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# SQLite autoincrements only an INTEGER PRIMARY KEY (a rowid alias).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "centers",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pools", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("center", sa.String(63)),
        sa.Column("pool", sa.String(63)),
        sa.Column("accelerator", sa.String(64)),
        sa.Column("accelerators_per_node", sa.Integer()),
        sa.Column("node_indices", sa.JSON()),
        sa.Column("price_per_hour", sa.Float()),
        sa.Column("placement_reason", sa.Text()),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("submitted_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("time_limit", sa.Float()),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"])
    op.create_index("ix_jobs_tenant_id", "jobs", ["tenant_id", "id"])
    op.create_index("ix_jobs_center_id", "jobs", ["center", "id"])
    op.create_table(
        "scheduler_cycles",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("placed", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("reservation", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("scheduler_cycles")
    op.drop_index("ix_jobs_center_id", table_name="jobs")
    op.drop_index("ix_jobs_tenant_id", table_name="jobs")
    op.drop_index("ix_jobs_status_id", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("centers")
