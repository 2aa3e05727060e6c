"""The storage port: what the services need from a database, in domain terms.

Adapters (SQLAlchemy on SQLite or PostgreSQL) implement it; domain objects go in and out, never
ORM rows. Every method is one transaction: it commits all of its writes or none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from suanli.domain.attempts import Attempt, AttemptState
from suanli.domain.audit import AuditEntry, AuditRecord
from suanli.domain.centers import Center, CenterSpec, CenterState, Pool
from suanli.domain.job import Job, Placement
from suanli.domain.job_reach import EVERY_JOB, JobReach
from suanli.domain.job_status import JobStatus
from suanli.domain.jobs import JobSpec


@dataclass(frozen=True, slots=True)
class NewJob:
    tenant_id: str
    spec: JobSpec
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class JobFilter:
    reach: JobReach = EVERY_JOB  # whose jobs the asker may see (domain/job_reach.py)
    statuses: frozenset[JobStatus] = frozenset()
    center: str | None = None
    name_prefix: str | None = None
    label: tuple[str, str] | None = None  # (key, value)


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job]
    next_cursor: int | None  # pass as ``after`` to get the next page; None on the last page


@dataclass(frozen=True, slots=True)
class PendingJob:
    """The scheduler's view of a waiting job; ``spec`` is loaded only when asked for."""

    id: int
    version: int
    tenant_id: str
    priority: int
    spec: JobSpec | None = None


@dataclass(frozen=True, slots=True)
class ActivePlacement:
    """Capacity an active (SCHEDULED or RUNNING) job holds."""

    job_id: int
    center: str
    pool: str
    node_indices: tuple[int, ...]
    slots: int
    since: datetime
    time_limit: float | None


@dataclass(frozen=True, slots=True)
class PlacementWrite:
    job_id: int
    expected_version: int
    placement: Placement


@dataclass(slots=True)
class CycleRecord:
    """One scheduling cycle as written by the process that ran it (audit, and the leader test)."""

    holder: str
    started_at: datetime
    placed: int
    waiting: int
    duration_ms: float
    reservation: str = ""
    extra: dict[str, object] = field(default_factory=dict)


class Store(Protocol):
    # centers ----------------------------------------------------------------------------------
    def create_center(self, spec: CenterSpec, now: datetime, organization: str = "default") -> Center:
        """Raises Conflict if the name is taken."""

    def get_center(self, name: str) -> Center:
        """Raises NotFound."""

    def list_centers(self) -> list[Center]: ...

    def capacity_fingerprint(self) -> tuple[object, ...]:
        """A cheap value that changes whenever a center is added, changed or deleted, or a job
        leaves SCHEDULED/RUNNING other than by the scheduler's own placements (capacity freed)."""

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
        """Replaces pools, state and/or problem if the version still matches; raises StaleVersion, NotFound."""

    def delete_center(self, name: str) -> None:
        """Raises Conflict while any SCHEDULED or RUNNING job is placed there; NotFound."""

    # jobs -------------------------------------------------------------------------------------
    def add_jobs(self, jobs: Sequence[NewJob], now: datetime) -> list[Job]:
        """Inserts all jobs or none, returned in input order with their ids.

        A job whose (tenant, idempotency key) already exists is not inserted again: the existing
        job is returned in its place, or Conflict is raised if its spec differs.
        """

    def get_job(self, job_id: int, reach: JobReach = EVERY_JOB) -> Job:
        """Raises NotFound (also when the job lies outside ``reach``)."""

    def list_jobs(self, filter: JobFilter, *, after: int | None, limit: int) -> JobPage:
        """Jobs newest first (descending id); ``after`` is the cursor from the previous page."""

    def save_job(self, job: Job, expected_version: int) -> Job:
        """Writes a transitioned job if its version is still ``expected_version``; raises StaleVersion."""

    def count_jobs_by_status(self, tenant_id: str | None = None) -> dict[JobStatus, int]: ...

    def oldest_pending_since(self, tenant_id: str | None = None) -> datetime | None:
        """When the longest-waiting PENDING job was submitted."""

    # scheduling -------------------------------------------------------------------------------
    def pending_jobs(self, known: frozenset[int] = frozenset()) -> list[PendingJob]:
        """All PENDING jobs; specs are loaded only for ids not in ``known`` (the caller caches them)."""

    def active_placements(self) -> list[ActivePlacement]: ...

    def apply_placements(self, writes: Sequence[PlacementWrite], now: datetime) -> list[int]:
        """In one transaction, moves each still-PENDING job at its expected version to SCHEDULED with
        its placement (attempts + 1, version + 1). Returns the ids written; skips the others."""

    def record_cycle(self, record: CycleRecord) -> None: ...

    def recent_cycles(self, limit: int = 100) -> list[CycleRecord]: ...


class LeaderLock(Protocol):
    """Exactly one process at a time holds it; it is freed when the holder dies."""

    holder: str

    def try_acquire(self) -> bool:
        """Non-blocking; True if this process holds the lock now (also if it already did)."""

    def held(self) -> bool: ...

    def release(self) -> None: ...


class Wakeups(Protocol):
    """Wakes the scheduler loops of other server processes (the leader's, in practice)."""

    def notify(self) -> None: ...

    def listen(self, on_wake: Callable[[], None], stop: threading.Event) -> threading.Thread: ...


@dataclass(frozen=True, slots=True)
class LiveAttempt:
    """An ASSIGNED or RUNNING attempt on a center, and whether it is still its job's current one."""

    job_id: int
    number: int
    delivered: bool
    current: bool  # the job is SCHEDULED/RUNNING and this is its latest attempt
    unstarted_since: datetime | None = None  # delivered, and not reported started since then

    @property
    def key(self) -> tuple[int, int]:
        return (self.job_id, self.number)


class AgentStore(Protocol):
    """What the agent protocol needs beyond ``Store``: tokens, attempts, heartbeats."""

    def add_center_token(self, center: str, token_hash: str, now: datetime) -> None:
        """Raises NotFound if the center does not exist."""

    def center_for_token(self, token_hash: str) -> str | None: ...

    def revoke_center_tokens(self, center: str, keep: str | None = None) -> int:
        """Deletes the center's tokens but ``keep`` (a hash); how many. NotFound for no such center."""

    def touch_center(self, center: str, now: datetime) -> None:
        """Records that the center's agent was heard from (no version change)."""

    def silent_centers(self, cutoff: datetime) -> list[str]:
        """Centers not OFFLINE whose agent was heard from once, but not since ``cutoff``."""

    def get_attempt(self, job_id: int, number: int) -> Attempt | None: ...

    def list_attempts(self, job_id: int) -> list[Attempt]: ...

    def live_attempts(self, center: str) -> list[LiveAttempt]: ...

    def has_undelivered(self, center: str) -> bool: ...

    def redeliver(self, job_id: int, number: int, delivered_at: datetime) -> bool:
        """Marks a delivered, still ASSIGNED attempt undelivered, so the next poll hands it out
        again; only if it was delivered at ``delivered_at`` (no poll took it meanwhile)."""

    def claim_assignments(self, center: str, now: datetime) -> list[tuple[Attempt, Job]]:
        """Marks the center's undelivered ASSIGNED attempts delivered and returns them with their jobs;
        one whose job moved on meanwhile is CANCELLED instead (nobody started it)."""

    def save_attempt(
        self, attempt: Attempt, expected_state: AttemptState, job: Job | None = None, expected_version: int = 0
    ) -> None:
        """In one transaction: the attempt if still in ``expected_state`` and, if given, the job if
        still at ``expected_version``. Raises StaleVersion (and writes nothing) otherwise."""

    def append_log(self, job_id: int, number: int, offset: int, data: bytes) -> int:
        """Stores ``data`` at ``offset`` only if ``offset`` is the stored length; returns that length."""

    def read_log(self, job_id: int, number: int, offset: int, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` bytes of the attempt's log from ``offset``, and the stored length."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action_prefix: str | None = None
    result: str | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    organization: str | None = None  # entries of acts for this organization; None: every one


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: int | None  # pass as ``before`` to get the next page; None on the last page


class AuditStore(Protocol):
    """The audit log: appended to, read, never changed. There is no update and no delete."""

    def append(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """In one transaction, under a lock that every appender (in any process) takes: reads the
        last entry and stores ``records`` chained after it (``domain.audit.seal``)."""

    def list_entries(self, filter: AuditFilter, *, before: int | None, limit: int) -> AuditPage:
        """Entries newest first (descending sequence); ``before`` is the cursor from the previous page."""

    def entries_after(self, after: int, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` entries with a sequence above ``after``, in ascending order (to verify)."""
