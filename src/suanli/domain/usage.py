"""Usage records: what one attempt held, where, and over which interval of the server's clock.

An attempt that started (its agent reported it RUNNING) is metered in records that tile
``[started_at, end)`` exactly, with no gap and no overlap: "checkpoint" records while it runs
(one each ``usage_interval_s``, so bills and budgets stay current), then one final record whose
``reason`` is the state the attempt ended in. An attempt that never started holds nothing and has
no record. Records are immutable; ``(job_id, attempt, interval_start)`` is each one's key, so
writing one twice is writing it once.

The end of the last interval (``final_interval``) is the attempt's ``ended_at``, except for a
LOST attempt: nobody knows when it stopped, so it ends at the last moment the server knew it ran,
the last time its center's agent was heard from (``last_seen``), never before it started.
Checkpoints stop there too (``checkpoint_interval``), so a later LOST never ends before them.

Pure: times come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from suanli.domain.accelerators import CPU
from suanli.domain.attempts import AttemptState
from suanli.domain.errors import InvalidSpec
from suanli.domain.identity import Principal, Role
from suanli.domain.job_reach import EVERY_JOB, JobReach
from suanli.domain.permissions import POLICY, Permission

CHECKPOINT = "checkpoint"  # the reason of a record of an attempt that still runs
# The reasons of final records: every final state an attempt that ran can end in (REFUSED is
# an answer to an assignment, given before anything starts).
FINAL_REASONS = frozenset(s.value for s in AttemptState if s.is_final and s is not AttemptState.REFUSED)
REASONS = FINAL_REASONS | {CHECKPOINT}
_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Held:
    """What an attempt holds while it runs, all its nodes together."""

    accelerator: str  # the catalog model, or "CPU" for a job without accelerators
    accelerators: int  # 0 for a CPU job: its cores are in ``cpus``
    cpus: int
    memory_gb: float


def held(
    accelerator: str, accelerators_per_node: int, nodes: int, cpus_per_node: int, memory_gb_per_node: float
) -> Held:
    """An attempt's holding, from its placement (model, slots per node) and its spec (per node,
    times the gang's nodes). A CPU job's slots are its cores, which ``cpus`` counts already."""
    accelerators = 0 if accelerator == CPU else accelerators_per_node * nodes
    return Held(accelerator, accelerators, cpus_per_node * nodes, memory_gb_per_node * nodes)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    job_id: int
    attempt: int  # the attempt's number, its fencing token
    interval_start: datetime  # server clock, UTC
    interval_end: datetime
    organization: str  # whose job it was: who uses, and pays
    project: str
    center: str
    center_organization: str  # who owned the center then: who supplied, and is paid
    pool: str
    accelerator: str
    accelerators: int
    cpus: int
    memory_gb: float
    reason: str  # CHECKPOINT, or the final state: SUCCEEDED, FAILED, CANCELLED, LOST
    recorded_at: datetime  # when the server wrote it (a LOST attempt's interval ends earlier)
    id: int | None = None  # given by storage, in the order records were written: readers page by it

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise InvalidSpec(f"a usage record's reason is one of {', '.join(sorted(REASONS))}, not {self.reason!r}")
        if self.interval_end < self.interval_start:
            raise InvalidSpec(
                f"a usage interval cannot end ({self.interval_end.isoformat()}) before it starts "
                f"({self.interval_start.isoformat()})"
            )

    @property
    def seconds(self) -> float:
        return (self.interval_end - self.interval_start).total_seconds()

    @property
    def accelerator_hours(self) -> float:
        return self.accelerators * self.seconds / _HOUR

    @property
    def cpu_hours(self) -> float:
        return self.cpus * self.seconds / _HOUR

    @property
    def memory_gb_hours(self) -> float:
        return self.memory_gb * self.seconds / _HOUR


def final_interval(
    state: AttemptState,
    started_at: datetime,
    ended_at: datetime,
    recorded_until: datetime | None,
    last_seen: datetime | None,
) -> tuple[datetime, datetime]:
    """The interval of an ended attempt's final record: from where its records so far end
    (``recorded_until``; ``started_at`` if it has none) to its end. A LOST attempt ends at its
    center's ``last_seen`` (the last moment the server knew it ran) when that is earlier than
    ``ended_at``. Never negative: an end before the start (another server process's clock a
    little behind) makes an empty interval, so the final record is still written."""
    start = max(started_at, recorded_until) if recorded_until is not None else started_at
    end = ended_at
    if state is AttemptState.LOST and last_seen is not None:
        end = min(end, last_seen)
    return start, max(start, end)


def checkpoint_interval(
    started_at: datetime, recorded_until: datetime | None, now: datetime, last_seen: datetime | None, every_s: float
) -> tuple[datetime, datetime] | None:
    """The next checkpoint of a running attempt, or None while its records so far end less than
    ``every_s`` ago. It ends now, or at the center's ``last_seen`` if that is earlier (the run
    beyond it is not known yet; were the attempt LOST, its final record would start there)."""
    start = max(started_at, recorded_until) if recorded_until is not None else started_at
    if start > now - timedelta(seconds=every_s):
        return None
    end = min(now, last_seen) if last_seen is not None else now
    return (start, end) if end > start else None


class UsageGrouping(StrEnum):
    """How ``GET /usage`` sums records up (none: the records themselves)."""

    DAY = "day"  # the UTC day the interval ends on
    CENTER = "center"
    ACCELERATOR = "accelerator"
    PROJECT = "project"  # organization/project
    JOB = "job"


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """The sums of the records of one group."""

    key: str
    records: int
    seconds: float
    accelerator_hours: float
    cpu_hours: float
    memory_gb_hours: float
    until: datetime | None = None  # where the group's latest interval ends


def readable_usage(principal: Principal) -> JobReach:
    """Whose usage a principal may read: its organization's, when a role other than
    center-operator grants ``usage.read``; the usage on its organization's centers, when it is a
    center operator; a platform admin's: all. The same sets as ``job_reach.readable_jobs``."""
    if Role.PLATFORM_ADMIN in principal.roles:
        return EVERY_JOB
    own = any(Permission.USAGE_READ in POLICY[role] for role in principal.roles - {Role.CENTER_OPERATOR})
    return JobReach(
        organization=principal.organization if own else None,
        centers_of=principal.organization if Role.CENTER_OPERATOR in principal.roles else None,
    )
