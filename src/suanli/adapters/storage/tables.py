"""The database schema (SQLAlchemy Core). Rows, not domain models: ``store.py`` converts at the edge.

Every change here needs a migration in ``migrations/versions``; a test compares the migrated
schema with this metadata on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so UTC is stored naive and made
    aware again on the way out. A naive value coming in is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ScaledDecimal(TypeDecorator[Decimal]):
    """Exact decimals stored as integers of 10**-places (12.3456 at 4 places is 123456).

    SQLite has no decimal type: SQLAlchemy's Numeric goes through a float there (and warns),
    which cannot hold every price exactly. An integer is exact on both databases, and sums of
    it in SQL stay exact. A value with more places than the column keeps is refused, never
    rounded (the domain quantizes before it stores)."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int) -> None:
        super().__init__()
        self.places = places

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value).scaleb(self.places)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(scaled)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).scaleb(-self.places).quantize(Decimal(1).scaleb(-self.places))


# SQLite autoincrements only an INTEGER PRIMARY KEY (a rowid alias), not BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _json() -> JSON:
    # none_as_null: Python None is SQL NULL, not the JSON text 'null'.
    return JSON(none_as_null=True)


metadata = MetaData()

centers = Table(
    "centers",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("region", String(100), nullable=False),
    Column("backend", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("pools", _json(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # When the center's agent was last heard from; NULL for a center that has no agent.
    Column("last_seen", UtcDateTime()),
    # What the center's agent says is wrong with its backend (Slurm down, say); "" while healthy.
    Column("problem", Text, nullable=False, server_default=""),
    # The organization that owns the center (its operators manage it); "default" before identity.
    Column("organization", String(63), nullable=False, server_default="default"),
)

jobs = Table(
    "jobs",
    metadata,
    # Ids grow with submission, so FIFO order is id order and ids are stable public handles;
    # sqlite_autoincrement keeps SQLite from reusing the id of a deleted newest row.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(200), nullable=False),  # the organization the job belongs to
    Column("project", String(63), nullable=False, server_default="default"),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("spec", _json(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    # placement: all NULL while the job has none
    Column("center", String(63)),
    Column("pool", String(63)),
    Column("accelerator", String(64)),
    Column("accelerators_per_node", Integer),
    Column("node_indices", _json()),
    Column("price_per_hour", Float),
    Column("placement_reason", Text),
    Column("message", Text, nullable=False),
    Column("submitted_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("idempotency_key", String(200)),
    # Denormalised from the spec so that active_placements and filters never parse the spec.
    Column("time_limit", Float),
    Column("labels", _json(), nullable=False),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
    Index("ix_jobs_status_id", "status", "id"),  # pending queue, active placements, status filter
    Index("ix_jobs_tenant_id", "tenant_id", "id"),  # a tenant's jobs newest first
    Index("ix_jobs_center_id", "center", "id"),  # a center's jobs; delete_center's check
    sqlite_autoincrement=True,
)

scheduler_cycles = Table(
    "scheduler_cycles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("holder", String(200), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("placed", Integer, nullable=False),
    Column("waiting", Integer, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("reservation", Text, nullable=False),
    Column("extra", _json(), nullable=False),
    sqlite_autoincrement=True,
)


# One row (id 1) whose counter goes up in the same transaction as any job change that can free
# capacity, so the scheduler's cached snapshot learns of releases made by any process cheaply.
capacity_changes = Table(
    "capacity_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("counter", BigInteger, nullable=False),
)

# Only a SHA-256 of each token is kept: a copy of the database lets no one act as a center.
center_tokens = Table(
    "center_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("center", String(63), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_center_tokens_center", "center"),
)

# One row per execution of a job; ``number`` is the fencing token (the job's attempts count).
attempts = Table(
    "attempts",
    metadata,
    Column("job_id", Id, primary_key=True, autoincrement=False),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("center", String(63), nullable=False),
    Column("pool", String(63), nullable=False),
    Column("node_indices", _json(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("delivered_at", UtcDateTime()),  # when it was last handed to the agent
    Column("exit_code", Integer),
    Column("message", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    # What the attempt holds per node (the job's placement when it was made), for its usage
    # records; NULL only on attempts that had ended before migration 0010.
    Column("accelerator", String(64)),
    Column("accelerators_per_node", Integer),
    Index("ix_attempts_center_state", "center", "state"),
    Index("ix_attempts_state", "state"),  # the RUNNING attempts, for usage checkpoints
)

# An attempt's output, in the chunks its agent shipped: ``offset`` is where the chunk starts.
attempt_logs = Table(
    "attempt_logs",
    metadata,
    Column("job_id", Id, primary_key=True, autoincrement=False),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("offset", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)


# -- identity (domain/identity.py) ------------------------------------------------------------------

organizations = Table(
    "organizations",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("organization", String(63), ForeignKey("organizations.name"), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Users and service accounts; ``organization`` is the home one, where its tokens act by default.
principals = Table(
    "principals",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("organization", String(63), ForeignKey("organizations.name"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("password_hash", String(255)),  # argon2 (pwdlib); NULL: no password, tokens only
)

memberships = Table(
    "memberships",
    metadata,
    Column("principal", String(63), ForeignKey("principals.name"), primary_key=True),
    Column("organization", String(63), ForeignKey("organizations.name"), primary_key=True),
    Column("role", String(32), primary_key=True),
    Index("ix_memberships_organization", "organization"),
)

# Only a SHA-256 of each token is kept (as for center tokens); ``prefix`` is its public part.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("principal", String(63), ForeignKey("principals.name"), nullable=False),
    Column("organization", String(63), ForeignKey("organizations.name"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("scopes", _json(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    Column("last_used_at", UtcDateTime()),
    Column("kind", String(16), nullable=False, server_default="api"),  # domain.identity.TokenKind
    Column("csrf_hash", String(64)),  # a browser session's CSRF token, SHA-256 as the token's own
    UniqueConstraint("prefix", name="uq_api_tokens_prefix"),
    UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    Index("ix_api_tokens_principal", "principal"),
    sqlite_autoincrement=True,
)

# The audit log (domain/audit.py): append-only, each row hashed together with the previous row's
# hash. ``sequence`` is given by the appender (1, 2, ...), under a lock, never by the database.
audit_log = Table(
    "audit_log",
    metadata,
    Column("sequence", Id, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("organization", String(200), nullable=False),
    Column("action", String(300), nullable=False),
    Column("target", String(300), nullable=False),
    Column("result", String(16), nullable=False),
    Column("request_id", String(200), nullable=False),
    Column("client", String(100), nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_actor", "actor", "sequence"),  # one actor's entries, newest first
    Index("ix_audit_log_organization", "organization", "sequence"),  # what one organization may read
    Index("ix_audit_log_at", "at"),  # --since / --until
)


# -- metering (domain/usage.py) --------------------------------------------------------------------

# Immutable: rows are only ever inserted (adapters/storage/usage_rows.py), never updated or
# deleted. The key (job_id, attempt, interval_start) makes a second write of an interval a no-op.
usage_records = Table(
    "usage_records",
    metadata,
    # Given at insert: the order in which records were written, which readers page by.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("interval_start", UtcDateTime(), nullable=False),
    Column("interval_end", UtcDateTime(), nullable=False),
    # interval_end - interval_start, kept so that sums need no date arithmetic in SQL
    Column("seconds", Float, nullable=False),
    Column("organization", String(200), nullable=False),
    Column("project", String(63), nullable=False),
    Column("center", String(63), nullable=False),
    Column("center_organization", String(63), nullable=False),
    Column("pool", String(63), nullable=False),
    Column("accelerator", String(64), nullable=False),
    Column("accelerators", Integer, nullable=False),
    Column("cpus", Integer, nullable=False),
    Column("memory_gb", Float, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    UniqueConstraint("job_id", "attempt", "interval_start", name="uq_usage_records_interval"),
    Index("ix_usage_records_organization_end", "organization", "interval_end"),
    Index("ix_usage_records_center_end", "center", "interval_end"),
    Index("ix_usage_records_supplier_end", "center_organization", "interval_end"),  # a center operator's view
    sqlite_autoincrement=True,
)

# Prices (domain/pricing.py): one row per rate of a pool, from ``effective_from`` on. A rate in
# force is never updated or deleted (usage was charged at it); one still in the future may be
# replaced or withdrawn. No foreign key to centers: a deleted center's rates stay, for the usage
# that ran there. Amounts are ten-thousandths of the currency (ScaledDecimal(4)).
rates = Table(
    "rates",
    metadata,
    Column("center", String(63), primary_key=True),
    Column("pool", String(63), primary_key=True),
    Column("effective_from", UtcDateTime(), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("per_accelerator_hour", ScaledDecimal(4), nullable=False),
    Column("per_cpu_hour", ScaledDecimal(4), nullable=False),
    Column("per_gb_hour", ScaledDecimal(4), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
    Column("published_by", String(200), nullable=False),
    Column("origin", String(16), nullable=False),  # domain.pricing.Origin
    Index("ix_rates_effective_from", "effective_from"),  # the rates that come due (PricingService.apply_due)
)

# The ledger (domain/ledger.py): transactions and their entries, never updated or deleted; a
# correction is a new transaction. ``key`` makes booking idempotent (one transaction per key,
# whoever books it); ``usage_id`` names the usage record a charge books, if it does. Amounts are
# in fen (ScaledDecimal(2)): exact on both databases, and summed exactly in SQL.
ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("memo", Text, nullable=False),
    Column("reverses", String(200)),
    Column("usage_id", BigInteger),
    Column("booked_at", UtcDateTime(), nullable=False),
    UniqueConstraint("key", name="uq_ledger_transactions_key"),
    Index("ix_ledger_transactions_at", "at"),
    Index("ix_ledger_transactions_usage_id", "usage_id"),  # a usage record's charge (statements, invoices)
    sqlite_autoincrement=True,
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), primary_key=True),
    Column("account", String(300), primary_key=True),  # kind:owner, e.g. receivable:acme
    Column("amount", ScaledDecimal(2), nullable=False),  # a debit positive, a credit negative
    Column("at", UtcDateTime(), nullable=False),  # the transaction's, for statements over a period
    Index("ix_ledger_entries_account_at", "account", "at"),
)

# How far the rater has read the usage records: every record with an id up to ``last_usage_id``
# is booked (or cost nothing). Moved in the transaction that books the records it passes.
rating_progress = Table(
    "rating_progress",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("last_usage_id", BigInteger, nullable=False),
)
