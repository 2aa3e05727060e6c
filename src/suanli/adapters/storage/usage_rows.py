"""Writing usage records, inside the transaction of the change they meter.

Every path that ends an attempt calls ``record_attempt_end`` with its connection right after it
wrote the attempt's final state (``SqlAgentStore.save_attempt`` for agents' reports, lost
centers and restarted agents; ``claim_assignments`` for attempts nobody took): the record and
the state change commit together or not at all, so a crash neither loses nor doubles usage.
``write_checkpoints`` meters the running attempts in intervals. Nothing here updates or deletes
a record; an insert whose key (job, attempt, interval start) exists already does nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from suanli.adapters.storage import rows
from suanli.adapters.storage.tables import attempts, centers, jobs, usage_records
from suanli.domain.attempts import AttemptState
from suanli.domain.stored_specs import stored_spec
from suanli.domain.usage import CHECKPOINT, UsageRecord, checkpoint_interval, final_interval, held

_KEY = ["job_id", "attempt", "interval_start"]
_RECORD_FIELDS = [c.name for c in usage_records.c]

# Where an attempt's checkpoints end: its final record starts there. Checkpoints only, so that
# writing the final record again finds the same start, the same key, and writes nothing.
_CHECKPOINTED_UNTIL = (
    select(usage_records.c.interval_end)
    .where(
        usage_records.c.job_id == attempts.c.job_id,
        usage_records.c.attempt == attempts.c.number,
        usage_records.c.reason == CHECKPOINT,
    )
    .order_by(usage_records.c.interval_start.desc())
    .limit(1)
    .correlate(attempts)
    .scalar_subquery()
)

# An attempt with everything its records say: what it holds, whose it is, its center's owner
# and last sign of life, and where its records so far end.
_HELD: Select[Any] = select(
    attempts.c.job_id,
    attempts.c.number,
    attempts.c.state,
    attempts.c.center,
    attempts.c.pool,
    attempts.c.started_at,
    attempts.c.ended_at,
    # NULL only for an attempt placed before migration 0010 whose job no longer says
    func.coalesce(attempts.c.accelerator, jobs.c.accelerator).label("accelerator"),
    func.coalesce(attempts.c.accelerators_per_node, jobs.c.accelerators_per_node).label("per_node"),
    jobs.c.tenant_id,
    jobs.c.project,
    rows.SPEC_TEXT,
    centers.c.organization.label("center_organization"),
    centers.c.last_seen,
    _CHECKPOINTED_UNTIL.label("recorded_until"),
).select_from(
    attempts.join(jobs, jobs.c.id == attempts.c.job_id).outerjoin(centers, centers.c.name == attempts.c.center)
)


# Statements built once: building and keying a statement of this size costs more than running it
# on SQLite (measured: 0.37 ms of the 0.6 ms a final report took, before they were constants).
_ONE_HELD = _HELD.where(attempts.c.job_id == bindparam("job_id"), attempts.c.number == bindparam("number"))
_RETURNING = usage_records.c.id  # the ids count the rows inserted (rowcount does not, see _insert_new)
_INSERT_NEW = {
    "postgresql": postgresql.insert(usage_records)
    .on_conflict_do_nothing(constraint="uq_usage_records_interval")
    .returning(_RETURNING),
    "sqlite": sqlite.insert(usage_records).on_conflict_do_nothing(index_elements=_KEY).returning(_RETURNING),
}


def record_attempt_end(connection: Connection, job_id: int, number: int) -> bool:
    """Writes the final usage record of an attempt whose final state the caller has just written
    in this transaction. An attempt that never started (no ``started_at``: it was refused,
    cancelled or lost before its agent ran it) held nothing and gets none; neither does one that
    has not ended. True if a record was written (False too when it was written already)."""
    row = connection.execute(_ONE_HELD, {"job_id": job_id, "number": number}).first()
    if row is None or row.started_at is None or row.ended_at is None:
        return False
    state = AttemptState(row.state)
    if not state.is_final:
        return False
    start, end = final_interval(state, row.started_at, row.ended_at, row.recorded_until, row.last_seen)
    return _insert_new(connection, [_record(row, state.value, start, end, row.ended_at)]) == 1


def write_checkpoints(connection: Connection, now: datetime, every_s: float, *, lock: bool) -> int:
    """A "checkpoint" record for each RUNNING attempt whose records end ``every_s`` or more ago,
    from there to now (or its center's last sign of life); how many were written.

    With ``lock`` (PostgreSQL) each attempt row is locked, and one another transaction holds is
    skipped: that is a report ending it (which writes the final record) or another process's
    checkpoint. A checkpoint racing one committed meanwhile has the same start and is dropped by
    the key; a report waits for the lock and then sees the checkpoint, so its record starts after it.
    """
    cutoff = rows.utc(now) - timedelta(seconds=every_s)
    since = func.coalesce(_CHECKPOINTED_UNTIL, attempts.c.started_at)
    statement = _HELD.where(attempts.c.state == AttemptState.RUNNING.value, since <= cutoff).order_by(
        attempts.c.job_id, attempts.c.number
    )
    if lock:
        statement = statement.with_for_update(of=attempts, skip_locked=True)
    records = []
    for row in connection.execute(statement).all():
        interval = checkpoint_interval(row.started_at, row.recorded_until, rows.utc(now), row.last_seen, every_s)
        if interval is not None:
            records.append(_record(row, CHECKPOINT, *interval, rows.utc(now)))
    return _insert_new(connection, records)


def record_values(record: UsageRecord) -> dict[str, Any]:
    values = {name: getattr(record, name, None) for name in _RECORD_FIELDS if name not in ("id", "seconds")}
    values["seconds"] = record.seconds
    return values


def record_from_row(row: Any) -> UsageRecord:
    """A UsageRecord from a row of ``usage_records`` (every column but ``seconds``, which it derives)."""
    return UsageRecord(
        id=row.id,
        job_id=row.job_id,
        attempt=row.attempt,
        interval_start=row.interval_start,
        interval_end=row.interval_end,
        organization=row.organization,
        project=row.project,
        center=row.center,
        center_organization=row.center_organization,
        pool=row.pool,
        accelerator=row.accelerator,
        accelerators=row.accelerators,
        cpus=row.cpus,
        memory_gb=row.memory_gb,
        reason=row.reason,
        recorded_at=row.recorded_at,
    )


def _record(row: Any, reason: str, start: datetime, end: datetime, recorded_at: datetime) -> UsageRecord:
    spec = stored_spec(row.spec_json)
    asked = spec.alternatives()[0]  # only for an attempt whose placement is unknown (see _HELD)
    holding = held(
        row.accelerator or asked.model,
        row.per_node or asked.count,
        spec.nodes,
        spec.resources.cpus,
        spec.resources.memory_gb,
    )
    return UsageRecord(
        job_id=row.job_id,
        attempt=row.number,
        interval_start=rows.utc(start),
        interval_end=rows.utc(end),
        organization=row.tenant_id,
        project=row.project,
        center=row.center,
        center_organization=row.center_organization or "",  # "": the center was deleted since
        pool=row.pool,
        accelerator=holding.accelerator,
        accelerators=holding.accelerators,
        cpus=holding.cpus,
        memory_gb=holding.memory_gb,
        reason=reason,
        recorded_at=rows.utc(recorded_at),
    )


def _insert_new(connection: Connection, records: list[UsageRecord]) -> int:
    """Inserts the records whose key is new; how many were."""
    if not records:
        return 0
    # The ids RETURNING gives count the rows inserted: rowcount is not reliable across drivers
    # for an INSERT ... ON CONFLICT (psycopg reports 0 with the implicit RETURNING of the id).
    statement = _INSERT_NEW["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    values = [record_values(r) for r in records]
    return len(connection.execute(statement, values).all())
