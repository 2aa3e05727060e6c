"""Identity: organizations, projects, principals, memberships, API tokens (hashed); the default
organization and project; jobs name their project and centers their owning organization.

Every job and center of an existing database stays where it was: jobs keep ``tenant_id``, which
now names an organization ("default" for all of them so far), and take the project "default";
centers belong to the organization "default".

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEFAULT = "default"


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
    )
    op.create_table(
        "projects",
        sa.Column("organization", sa.String(63), sa.ForeignKey("organizations.name"), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("created_at", _time(), nullable=False),
    )
    op.create_table(
        "principals",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("organization", sa.String(63), sa.ForeignKey("organizations.name"), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "memberships",
        sa.Column("principal", sa.String(63), sa.ForeignKey("principals.name"), primary_key=True),
        sa.Column("organization", sa.String(63), sa.ForeignKey("organizations.name"), primary_key=True),
        sa.Column("role", sa.String(32), primary_key=True),
    )
    op.create_index("ix_memberships_organization", "memberships", ["organization"])
    op.create_table(
        "api_tokens",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("principal", sa.String(63), sa.ForeignKey("principals.name"), nullable=False),
        sa.Column("organization", sa.String(63), sa.ForeignKey("organizations.name"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("scopes", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=True),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.Column("last_used_at", _time(), nullable=True),
        sa.UniqueConstraint("prefix", name="uq_api_tokens_prefix"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_api_tokens_principal", "api_tokens", ["principal"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("project", sa.String(63), nullable=False, server_default=DEFAULT))
    with op.batch_alter_table("centers") as batch:
        batch.add_column(sa.Column("organization", sa.String(63), nullable=False, server_default=DEFAULT))
    _insert_defaults()


def _insert_defaults() -> None:
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # SQLite keeps UTC naive (tables.UtcDateTime)
    organizations = sa.table(
        "organizations",
        sa.column("name", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("display_name", sa.String()),
        sa.column("created_at", _time()),
    )
    projects = sa.table(
        "projects",
        sa.column("organization", sa.String()),
        sa.column("name", sa.String()),
        sa.column("created_at", _time()),
    )
    op.bulk_insert(
        organizations, [{"name": DEFAULT, "kind": "platform", "display_name": "the platform", "created_at": now}]
    )
    op.bulk_insert(projects, [{"organization": DEFAULT, "name": DEFAULT, "created_at": now}])


def downgrade() -> None:
    with op.batch_alter_table("centers") as batch:
        batch.drop_column("organization")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("project")
    op.drop_index("ix_api_tokens_principal", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_memberships_organization", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("principals")
    op.drop_table("projects")
    op.drop_table("organizations")
