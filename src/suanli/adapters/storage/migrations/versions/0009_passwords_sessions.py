"""Passwords and browser sessions: a principal may have a password hash (argon2, by pwdlib); a
token is an API token or a browser session's, which keeps the hash of its CSRF token. The audit
log is read by organization (each sees only its own entries), so it gets an index for that.

Existing tokens are API tokens; existing principals have no password (they keep signing in with
their tokens).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255)))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="api"))
        batch.add_column(sa.Column("csrf_hash", sa.String(64)))
    op.create_index("ix_audit_log_organization", "audit_log", ["organization", "sequence"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_organization", table_name="audit_log")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("csrf_hash")
        batch.drop_column("kind")
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("password_hash")
