"""Bulk submission: tens of thousands of jobs per second into SQLite or PostgreSQL.

Both paths skip per-row SQL compilation and type processing (the time of a generic
``insert().returning()`` goes there, not into the database) and learn the new ids without
RETURNING, in input order, so that FIFO order is id order:

- SQLite: one ``executemany``. The caller holds the write lock (BEGIN IMMEDIATE), and an
  AUTOINCREMENT table gives the rows consecutive ids after the table's high-water mark.
- PostgreSQL: ids are drawn from the table's sequence first, then the rows go in with COPY.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from suanli.adapters.storage.tables import jobs
from suanli.domain.job_status import JobStatus
from suanli.services.ports import NewJob

# (tenant_id, name, priority, spec JSON, idempotency_key, time_limit, labels JSON)
PreparedJob = tuple[str, str, int, str, str | None, float | None, str]

_COLUMNS = (
    "tenant_id, name, priority, spec, idempotency_key, time_limit, labels, "
    "status, version, attempts, message, submitted_at, updated_at"
)
_SQLITE_INSERT = f"INSERT INTO jobs ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"
_SQLITE_HIGH_WATER = text(
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0),"
    " coalesce((SELECT max(id) FROM jobs), 0))"
)
_PG_IDS = text("SELECT nextval(pg_get_serial_sequence('jobs', 'id')) FROM generate_series(1, :n)")
_PG_COPY = f"COPY jobs (id, {_COLUMNS}) FROM STDIN"


def spec_json(new: NewJob) -> str:
    """The stored form of a spec.

    exclude_unset drops what the submitter left to defaults, like exclude_defaults would, at a
    third of the cost (exclude_defaults builds every default_factory value per job to compare).
    Either way JobSpec.model_validate_json gives back an equal spec.
    """
    return new.spec.model_dump_json(exclude_unset=True)


def prepare(new: NewJob) -> PreparedJob:
    """The CPU-heavy serialisation, done before the transaction opens."""
    spec = new.spec
    return (
        new.tenant_id,
        spec.name,
        spec.priority,
        spec_json(new),
        new.idempotency_key,
        spec.time_limit,
        json.dumps(spec.labels, separators=(",", ":")),
    )


def insert_jobs(connection: Connection, prepared: Sequence[PreparedJob], now: datetime) -> list[int]:
    """Inserts PENDING jobs and returns their ids in input order."""
    if not prepared:
        return []
    if connection.dialect.name == "postgresql":
        return _insert_postgres(connection, prepared, now)
    return _insert_sqlite(connection, prepared, now)


def _insert_sqlite(connection: Connection, prepared: Sequence[PreparedJob], now: datetime) -> list[int]:
    # The timestamp in exactly the form the column type writes (and reads back).
    processor = jobs.c.submitted_at.type.bind_processor(connection.dialect)
    stamp = processor(now) if processor is not None else now
    tail = (JobStatus.PENDING.value, 1, 0, "", stamp, stamp)
    before = connection.execute(_SQLITE_HIGH_WATER).scalar_one()
    connection.exec_driver_sql(_SQLITE_INSERT, [row + tail for row in prepared])
    after = connection.execute(_SQLITE_HIGH_WATER).scalar_one()
    if after - before != len(prepared):
        # Only possible without the write lock; the caller's transaction rolls back.
        raise RuntimeError(f"expected {len(prepared)} consecutive job ids, got {before + 1}..{after}")
    return list(range(before + 1, after + 1))


def _insert_postgres(connection: Connection, prepared: Sequence[PreparedJob], now: datetime) -> list[int]:
    # nextval never hands a value out twice, so these ids are ours even under concurrent submissions;
    # sorted, they keep the batch's order.
    ids = sorted(connection.execute(_PG_IDS, {"n": len(prepared)}).scalars())
    tail = (JobStatus.PENDING.value, 1, 0, "", now, now)
    driver = connection.connection.driver_connection  # psycopg, inside the same transaction
    assert driver is not None
    import psycopg  # only PostgreSQL installs need the driver

    try:
        with driver.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
            for job_id, row in zip(ids, prepared, strict=True):
                copy.write_row((job_id, *row, *tail))
    except psycopg.IntegrityError as error:
        # The raw cursor bypasses SQLAlchemy's error wrapping; callers catch SQLAlchemy's class.
        raise IntegrityError(_PG_COPY, None, error) from error
    return ids
