"""The job queries that carry the load: idempotency look-ups, list pages, the pending queue, placements.

Each function runs inside a transaction its caller (SqlStore) opened.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import starmap
from typing import Any

from sqlalchemy import Select, bindparam, exists, false, func, insert, literal_column, or_, select, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from suanli.adapters.storage import rows
from suanli.adapters.storage.tables import attempts, capacity_changes, centers, jobs
from suanli.domain.attempts import AttemptState
from suanli.domain.job import Job
from suanli.domain.job_reach import JobReach
from suanli.domain.job_status import ACTIVE, JobStatus
from suanli.domain.jobs import JobSpec
from suanli.domain.stored_specs import stored_spec
from suanli.services.ports import JobFilter, PendingJob, PlacementWrite

_CHUNK = 1000  # values per IN (...) list, well under SQLite's limit on bound parameters
_PENDING = JobStatus.PENDING.value


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# submission -------------------------------------------------------------------------------------


def jobs_by_key(connection: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Job]:
    """Existing jobs for (tenant, idempotency key) pairs."""
    by_tenant: dict[str, list[str]] = {}
    for tenant, key in keys:
        by_tenant.setdefault(tenant, []).append(key)
    found: dict[tuple[str, str], Job] = {}
    for tenant, tenant_keys in by_tenant.items():
        for chunk in _chunks(tenant_keys):
            statement = select(*rows.JOB_COLUMNS).where(jobs.c.tenant_id == tenant, jobs.c.idempotency_key.in_(chunk))
            for row in connection.execute(statement):
                found[(tenant, row.idempotency_key)] = rows.job_from_row(row)
    return found


# listing ----------------------------------------------------------------------------------------


def _label_condition(key: str, value: str, postgres: bool) -> ColumnElement[bool]:
    if postgres:
        return jobs.c.labels.op("->>")(bindparam("label_key", key)) == value
    # SQLite's JSON paths cannot quote every key ('$."a"b"' is malformed); json_each compares the
    # key as a plain value, whatever characters it holds.
    each = func.json_each(jobs.c.labels).table_valued("key", "value").alias("label")
    return exists(select(literal_column("1")).select_from(each).where(each.c.key == key, each.c.value == value))


def reach_condition(reach: JobReach) -> ColumnElement[bool] | None:
    """The jobs within ``reach`` (None: every job), for the database to select, so that pages
    and cursors count only them. A job is on an organization's centers when one of its attempts,
    the current one or an earlier one, was placed there: one uncorrelated sub-select the database
    runs once per query (the attempts by center, from ``ix_attempts_center_state``)."""
    if reach.everything:
        return None
    parts: list[ColumnElement[bool]] = []
    if reach.organization is not None:
        parts.append(jobs.c.tenant_id == reach.organization)
    if reach.centers_of is not None:
        owned = select(centers.c.name).where(centers.c.organization == reach.centers_of)
        parts.append(jobs.c.id.in_(select(attempts.c.job_id).where(attempts.c.center.in_(owned))))
    return or_(*parts) if parts else false()


def _conditions(filter: JobFilter, after: int | None, postgres: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if after is not None:
        conditions.append(jobs.c.id < after)
    reach = reach_condition(filter.reach)
    if reach is not None:
        conditions.append(reach)
    if filter.center is not None:
        conditions.append(jobs.c.center == filter.center)
    if filter.name_prefix:
        conditions.append(jobs.c.name.startswith(filter.name_prefix, autoescape=True))
    if filter.label is not None:
        conditions.append(_label_condition(*filter.label, postgres))
    return conditions


def page_query(filter: JobFilter, after: int | None, limit: int, postgres: bool) -> Select[Any]:
    """Newest first, keyset-paginated on id (never OFFSET, so page 10,000 costs what page 1 does)."""
    conditions = _conditions(filter, after, postgres)
    statuses = sorted(s.value for s in filter.statuses)
    newest_first = select(*rows.JOB_COLUMNS).order_by(jobs.c.id.desc()).limit(limit)
    if len(statuses) <= 1:
        if statuses:
            conditions.append(jobs.c.status == statuses[0])
        return newest_first.where(*conditions)
    # Several statuses: an IN list would make the database gather and sort every matching row;
    # instead take the newest `limit` ids of each status from (status, id) and merge those.
    per_status = [
        select(jobs.c.id).where(jobs.c.status == status, *conditions).order_by(jobs.c.id.desc()).limit(limit).subquery()
        for status in statuses
    ]
    ids = union_all(*(select(sub.c.id) for sub in per_status))
    return newest_first.where(jobs.c.id.in_(ids))


# writes -------------------------------------------------------------------------------------------


def write_job(connection: Connection, job: Job, expected_version: int) -> bool:
    """Writes a transitioned job if its version is still ``expected_version``; False if it is not.

    A job that leaves SCHEDULED/RUNNING may free capacity: the release counter moves with it.
    """
    statement = (
        update(jobs)
        .where(jobs.c.id == job.id, jobs.c.version == expected_version)
        .values(
            status=job.status.value,
            attempts=job.attempts,
            message=job.message,
            updated_at=rows.utc(job.updated_at),
            version=expected_version + 1,
            **rows.placement_values(job.placement),
        )
    )
    if connection.execute(statement).rowcount != 1:
        return False
    if job.status not in ACTIVE:
        connection.execute(
            update(capacity_changes).where(capacity_changes.c.id == 1).values(counter=capacity_changes.c.counter + 1)
        )
    return True


# scheduling ---------------------------------------------------------------------------------------


# A constant statement run on the driver's cursor: for a backlog of 100,000 rows SQLAlchemy's
# result rows cost as much again as the fetch itself. Same SQL on SQLite and PostgreSQL.
_BACKLOG = f"SELECT id, version, tenant_id, priority FROM jobs WHERE status = '{_PENDING}' ORDER BY id"


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses Python's cycle collector while the backlog's objects are built.

    Every few hundred new objects start a collection that walks the young ones; parsing 100,000
    specs set off so many that they took two thirds of the time (measured: 50 us per spec with
    the collector, 18 without). These objects form no reference cycles, so nothing is lost by
    collecting later. The switch is process-wide, hence only around this one bounded read.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def pending_jobs(connection: Connection, known: frozenset[int]) -> list[PendingJob]:
    """The PENDING backlog in id order; specs parsed only for ids the caller has not cached.

    The first cycle reads every spec in one pass. Later cycles read the small columns of the
    backlog and fetch specs by id for the few new jobs only.
    """
    with _collector_paused():
        return _pending_jobs(connection, known)


def _pending_jobs(connection: Connection, known: frozenset[int]) -> list[PendingJob]:
    if not known:
        head = (jobs.c.id, jobs.c.version, jobs.c.tenant_id, jobs.c.priority, rows.SPEC_TEXT)
        result = connection.execute(select(*head).where(jobs.c.status == _PENDING).order_by(jobs.c.id))
        return [
            PendingJob(job_id, version, tenant, priority, stored_spec(spec))
            for job_id, version, tenant, priority, spec in result.all()
        ]
    cursor = connection.connection.cursor()  # the DBAPI cursor, inside this same transaction
    try:
        cursor.execute(_BACKLOG)
        backlog: Sequence[tuple[int, int, str, int]] = cursor.fetchall()
    finally:
        cursor.close()
    missing = [row[0] for row in backlog if row[0] not in known]
    if not missing:
        return list(starmap(PendingJob, backlog))
    specs: dict[int, JobSpec] = {}
    for chunk in _chunks(missing):
        statement = select(jobs.c.id, rows.SPEC_TEXT).where(jobs.c.id.in_(chunk))
        for job_id, spec in connection.execute(statement).all():
            specs[job_id] = stored_spec(spec)
    return [
        PendingJob(job_id, version, tenant, priority, specs.get(job_id))
        for job_id, version, tenant, priority in backlog
        if job_id in known or job_id in specs  # a job that vanished meanwhile has no spec to give
    ]


def placeable(connection: Connection, writes: Sequence[PlacementWrite], lock: bool) -> list[PlacementWrite]:
    """The writes whose job is still PENDING at the expected version, on a center that exists.

    With ``lock`` (PostgreSQL) the jobs are locked FOR UPDATE and the centers FOR KEY SHARE until
    the transaction ends, so nothing can change between this check and the update.
    """
    ids = sorted({w.job_id for w in writes})
    versions: dict[int, int] = {}
    for chunk in _chunks(ids):
        statement = select(jobs.c.id, jobs.c.version).where(jobs.c.id.in_(chunk), jobs.c.status == _PENDING)
        for job_id, version in connection.execute(statement.with_for_update() if lock else statement):
            versions[job_id] = version
    names = sorted({w.placement.center for w in writes})
    statement = select(centers.c.name).where(centers.c.name.in_(names))
    # FOR KEY SHARE blocks only a delete of the center, not a concurrent change of its pools or state.
    locked = statement.with_for_update(read=True, key_share=True) if lock else statement
    live = set(connection.execute(locked).scalars())
    chosen: list[PlacementWrite] = []
    taken: set[int] = set()
    for write in writes:
        current = versions.get(write.job_id) == write.expected_version and write.placement.center in live
        if current and write.job_id not in taken:  # a job named twice is placed once
            taken.add(write.job_id)
            chosen.append(write)
    return chosen


def write_placements(connection: Connection, chosen: Sequence[PlacementWrite], now: datetime) -> None:
    """PENDING -> SCHEDULED for rows already checked by ``placeable``, in one executemany."""
    statement = (
        update(jobs)
        .where(
            jobs.c.id == bindparam("w_id"),
            jobs.c.version == bindparam("w_version"),
            jobs.c.status == _PENDING,  # the guard stays in the statement: correctness over trust
        )
        .values(
            status=JobStatus.SCHEDULED.value,
            version=jobs.c.version + 1,
            attempts=jobs.c.attempts + 1,
            message="",
            updated_at=now,
            center=bindparam("w_center"),
            pool=bindparam("w_pool"),
            accelerator=bindparam("w_accelerator"),
            accelerators_per_node=bindparam("w_slots"),
            node_indices=bindparam("w_nodes", type_=jobs.c.node_indices.type),
            price_per_hour=bindparam("w_price"),
            placement_reason=bindparam("w_reason"),
        )
    )
    parameters = [
        {
            "w_id": w.job_id,
            "w_version": w.expected_version,
            "w_center": w.placement.center,
            "w_pool": w.placement.pool,
            "w_accelerator": w.placement.accelerator,
            "w_slots": w.placement.accelerators_per_node,
            "w_nodes": list(w.placement.node_indices),
            "w_price": w.placement.price_per_hour,
            "w_reason": w.placement.reason,
        }
        for w in chosen
    ]
    result = connection.execute(statement, parameters)
    if connection.dialect.supports_sane_multi_rowcount and result.rowcount != len(parameters):
        # Cannot happen while the rows are locked; if it does, undo the whole cycle's writes.
        raise RuntimeError(f"placed {result.rowcount} of {len(parameters)} checked jobs; rolled back")
    _add_attempts(connection, chosen, now)


def _add_attempts(connection: Connection, chosen: Sequence[PlacementWrite], now: datetime) -> None:
    """An ASSIGNED attempt per placement, numbered by the job's new attempts count (its fencing token)."""
    numbers: dict[int, int] = {}
    for chunk in _chunks([w.job_id for w in chosen]):
        found = connection.execute(select(jobs.c.id, jobs.c.attempts).where(jobs.c.id.in_(chunk))).all()
        numbers.update((job_id, count) for job_id, count in found)
    connection.execute(
        insert(attempts),
        [
            {
                "job_id": w.job_id,
                "number": numbers[w.job_id],
                "center": w.placement.center,
                "pool": w.placement.pool,
                "node_indices": list(w.placement.node_indices),
                "accelerator": w.placement.accelerator,  # what it holds, for its usage records
                "accelerators_per_node": w.placement.accelerators_per_node,
                "state": AttemptState.ASSIGNED.value,
                "delivered": False,
                "delivered_at": None,
                "exit_code": None,
                "message": "",
                "created_at": now,
                "started_at": None,
                "ended_at": None,
            }
            for w in chosen
        ],
    )
