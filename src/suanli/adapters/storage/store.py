"""``SqlStore``: the Store port on SQLAlchemy Core, for SQLite and PostgreSQL.

Every public method is one transaction. Writers on SQLite begin with BEGIN IMMEDIATE (see
engine.py), so a read followed by a write in one method never fails half-way on a lock upgrade;
on PostgreSQL rows that are read in order to be written are locked (FOR UPDATE / FOR KEY SHARE).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from suanli.adapters.storage import bulk, job_queries, rows
from suanli.adapters.storage.engine import WRITE
from suanli.adapters.storage.tables import capacity_changes, centers, scheduler_cycles
from suanli.adapters.storage.tables import jobs as jobs_table
from suanli.domain.centers import Center, CenterSpec, CenterState, Pool
from suanli.domain.errors import Conflict, InvalidSpec, NotFound, StaleVersion
from suanli.domain.job import Job
from suanli.domain.job_reach import EVERY_JOB, JobReach
from suanli.domain.job_status import ACTIVE, JobStatus
from suanli.services.ports import (
    ActivePlacement,
    CycleRecord,
    JobFilter,
    JobPage,
    NewJob,
    PendingJob,
    PlacementWrite,
)

_ACTIVE = sorted(s.value for s in ACTIVE)
_SUBMIT_ATTEMPTS = 3


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite lets one writer in at a time and makes the others sleep and retry (busy
        # timeout), which turns 16 concurrent submitters into second-long tails. Queue this
        # process's writers on a lock instead; other processes still meet the busy timeout.
        self._write_lock: AbstractContextManager[object] = nullcontext() if self._postgres else threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with (
            self._write_lock,
            self.engine.connect().execution_options(**WRITE) as connection,
            connection.begin(),
        ):
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # One transaction too, so a method's several SELECTs see one state of the database.
        with self.engine.connect() as connection, connection.begin():
            yield connection

    # centers --------------------------------------------------------------------------------------

    def create_center(self, spec: CenterSpec, now: datetime, organization: str = "default") -> Center:
        try:
            with self._write() as connection:
                connection.execute(insert(centers), rows.center_values(spec, rows.utc(now), organization))
        except IntegrityError:
            raise Conflict(
                f"center {spec.name!r} already exists; pick another name or update its pools", field="name"
            ) from None
        return Center(spec=spec, organization=organization)

    def get_center(self, name: str) -> Center:
        with self._read() as connection:
            row = connection.execute(select(*rows.CENTER_COLUMNS).where(centers.c.name == name)).first()
        if row is None:
            raise NotFound(f"center {name!r} not found; `suanli center list` shows the registered centers")
        return rows.center_from_row(row)

    def list_centers(self) -> list[Center]:
        with self._read() as connection:
            result = connection.execute(select(*rows.CENTER_COLUMNS).order_by(centers.c.name))
            return [rows.center_from_row(row) for row in result]

    def update_center(
        self,
        name: str,
        *,
        expected_version: int,
        now: datetime,
        pools: Sequence[Pool] | None = None,
        state: CenterState | None = None,
        problem: str | None = None,
    ) -> Center:
        values: dict[str, Any] = {"version": centers.c.version + 1, "updated_at": rows.utc(now)}
        if problem is not None:
            values["problem"] = problem
        if pools is not None:
            values["pools"] = rows.pools_value(list(pools))
        if state is not None:
            values["state"] = state.value
        statement = (
            update(centers)
            .where(centers.c.name == name, centers.c.version == expected_version)
            .values(values)
            .returning(*rows.CENTER_COLUMNS)
        )
        with self._write() as connection:
            row = connection.execute(statement).first()
            if row is None:
                current = connection.execute(select(centers.c.version).where(centers.c.name == name)).scalar()
        if row is not None:
            return rows.center_from_row(row)
        if current is None:
            raise NotFound(f"center {name!r} not found; `suanli center list` shows the registered centers")
        raise StaleVersion(
            f"center {name!r} was changed meanwhile (version {current}, expected {expected_version}); "
            "read it again and retry"
        )

    def delete_center(self, name: str) -> None:
        with self._write() as connection:
            lookup = select(centers.c.name).where(centers.c.name == name)
            # Locking the row makes a concurrent apply_placements (which takes FOR KEY SHARE on the
            # centers it places on) either finish first, and be counted, or see the center gone.
            if connection.execute(lookup.with_for_update() if self._postgres else lookup).first() is None:
                raise NotFound(f"center {name!r} not found; `suanli center list` shows the registered centers")
            active = connection.execute(
                select(func.count())
                .select_from(jobs_table)
                .where(jobs_table.c.center == name, jobs_table.c.status.in_(_ACTIVE))
            ).scalar_one()
            if active:
                raise Conflict(
                    f"center {name!r} still holds {active} scheduled or running job(s); drain it "
                    "(`suanli center drain`) and wait for them to finish, or cancel them, then delete it"
                )
            connection.execute(delete(centers).where(centers.c.name == name))

    def capacity_fingerprint(self) -> tuple[object, ...]:
        of_centers = select(func.count(), func.coalesce(func.sum(centers.c.version), 0), func.max(centers.c.updated_at))
        releases = select(capacity_changes.c.counter).where(capacity_changes.c.id == 1)
        with self._read() as connection:
            return (*connection.execute(of_centers).one(), connection.execute(releases).scalar())

    # jobs -----------------------------------------------------------------------------------------

    def add_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Job]:
        if not jobs:
            return []
        now = rows.utc(now)
        # Serialise outside the transaction: it is the CPU-heavy part and needs no lock.
        prepared = [bulk.prepare(new) for new in jobs]
        for attempt in range(_SUBMIT_ATTEMPTS):
            try:
                with self._write() as connection:
                    return self._add_jobs(connection, jobs, prepared, now)
            except IntegrityError:
                # Another process inserted one of our idempotency keys after we looked: roll back
                # and try again; the next look finds its job and returns it (or a Conflict).
                if attempt == _SUBMIT_ATTEMPTS - 1:
                    raise Conflict("a concurrent submission used the same idempotency keys; retry") from None
        raise AssertionError("unreachable")

    def _add_jobs(
        self, connection: Connection, new_jobs: Sequence[NewJob], prepared: list[bulk.PreparedJob], now: datetime
    ) -> list[Job]:
        first_of: dict[tuple[str, str], int] = {}  # (tenant, key) -> index of the first job with it
        source = list(range(len(new_jobs)))  # the input whose job each output is
        for i, new in enumerate(new_jobs):
            if new.idempotency_key is None:
                continue
            source[i] = first = first_of.setdefault((new.tenant_id, new.idempotency_key), i)
            if new_jobs[first].spec != new.spec:
                raise Conflict(
                    f"jobs[{first}] and jobs[{i}] use the idempotency key {new.idempotency_key!r} with "
                    "different specs; give each distinct job its own key",
                    field=f"jobs[{i}]",
                )
        existing = job_queries.jobs_by_key(connection, list(first_of))
        for (_, key), job in existing.items():
            if job.spec != new_jobs[first_of[(job.tenant_id, key)]].spec:
                raise Conflict(
                    f"the idempotency key {key!r} was already used for job {job.id} with a different "
                    "spec; resubmit that same spec, or use a new key for a new job"
                )
        known = {first_of[pair]: job for pair, job in existing.items()}
        fresh = [i for i in range(len(new_jobs)) if source[i] == i and i not in known]
        ids = bulk.insert_jobs(connection, [prepared[i] for i in fresh], now)
        made = known | {i: rows.new_job(job_id, new_jobs[i], now) for i, job_id in zip(fresh, ids, strict=True)}
        return [made[source[i]] for i in range(len(new_jobs))]

    def get_job(self, job_id: int, reach: JobReach = EVERY_JOB) -> Job:
        statement = select(*rows.JOB_COLUMNS).where(jobs_table.c.id == job_id)
        within = job_queries.reach_condition(reach)
        if within is not None:
            statement = statement.where(within)
        with self._read() as connection:
            row = connection.execute(statement).first()
        if row is None:
            # The same words for a job out of reach: its existence is not theirs to learn.
            raise NotFound(f"job {job_id} not found")
        return rows.job_from_row(row)

    def list_jobs(self, filter: JobFilter, *, after: int | None, limit: int) -> JobPage:
        if limit < 1:
            raise InvalidSpec("limit must be at least 1", field="limit")
        statement = job_queries.page_query(filter, after, limit + 1, self._postgres)
        with self._read() as connection:
            found = [rows.job_from_row(row) for row in connection.execute(statement)]
        if len(found) > limit:
            return JobPage(found[:limit], next_cursor=found[limit - 1].id)
        return JobPage(found, next_cursor=None)

    def save_job(self, job: Job, expected_version: int) -> Job:
        updated_at = rows.utc(job.updated_at)
        with self._write() as connection:
            if job_queries.write_job(connection, job, expected_version):
                return job.model_copy(update={"version": expected_version + 1, "updated_at": updated_at})
            current = connection.execute(select(jobs_table.c.version).where(jobs_table.c.id == job.id)).scalar()
        if current is None:
            raise NotFound(f"job {job.id} not found")
        raise StaleVersion(
            f"job {job.id} was changed meanwhile (version {current}, expected {expected_version}); "
            "read it again and retry"
        )

    def count_jobs_by_status(self, tenant_id: str | None = None) -> dict[JobStatus, int]:
        statement = select(jobs_table.c.status, func.count()).group_by(jobs_table.c.status)
        if tenant_id is not None:
            statement = statement.where(jobs_table.c.tenant_id == tenant_id)
        counts = dict.fromkeys(JobStatus, 0)
        with self._read() as connection:
            for status, count in connection.execute(statement):
                counts[JobStatus(status)] = count
        return counts

    def oldest_pending_since(self, tenant_id: str | None = None) -> datetime | None:
        statement = select(func.min(jobs_table.c.submitted_at)).where(jobs_table.c.status == JobStatus.PENDING.value)
        if tenant_id is not None:
            statement = statement.where(jobs_table.c.tenant_id == tenant_id)
        with self._read() as connection:
            return connection.execute(statement).scalar()

    # scheduling -----------------------------------------------------------------------------------

    def pending_jobs(self, known: frozenset[int] = frozenset()) -> list[PendingJob]:
        with self._read() as connection:
            return job_queries.pending_jobs(connection, known)

    def active_placements(self) -> list[ActivePlacement]:
        statement = select(
            jobs_table.c.id,
            jobs_table.c.center,
            jobs_table.c.pool,
            jobs_table.c.node_indices,
            jobs_table.c.accelerators_per_node,
            jobs_table.c.updated_at,
            jobs_table.c.time_limit,
        ).where(jobs_table.c.status.in_(_ACTIVE), jobs_table.c.center.is_not(None))
        with self._read() as connection:
            return [
                # An active job's last status change was into SCHEDULED or RUNNING, so updated_at
                # is when it began to hold (or to run on) this capacity.
                ActivePlacement(
                    row.id,
                    row.center,
                    row.pool,
                    tuple(row.node_indices or ()),
                    row.accelerators_per_node,
                    row.updated_at,
                    row.time_limit,
                )
                for row in connection.execute(statement).all()
            ]

    def apply_placements(self, writes: Sequence[PlacementWrite], now: datetime) -> list[int]:
        if not writes:
            return []
        with self._write() as connection:
            chosen = job_queries.placeable(connection, writes, lock=self._postgres)
            if chosen:
                job_queries.write_placements(connection, chosen, rows.utc(now))
        return [write.job_id for write in chosen]

    def record_cycle(self, record: CycleRecord) -> None:
        with self._write() as connection:
            connection.execute(insert(scheduler_cycles), rows.cycle_values(record))

    def recent_cycles(self, limit: int = 100) -> list[CycleRecord]:
        statement = select(*rows.CYCLE_COLUMNS).order_by(scheduler_cycles.c.id.desc()).limit(max(limit, 0))
        with self._read() as connection:
            return [rows.cycle_from_row(row) for row in connection.execute(statement)]
