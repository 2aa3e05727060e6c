"""Extension points of the scheduler and the values a cycle returns.

A plugin is a small class named in the table of built-in plugins (``plugins/table.py``).
Filters and scores declare whether they are *dynamic* (their answer depends on free capacity)
or static (it depends only on the job's shape and the cycle's fixed facts); static answers are
computed once per shape. Results are values: a filter returns a ``FilterStatus``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import ClassVar

from suanli.scheduler.packing import Mix, Pick
from suanli.scheduler.request import SchedulingRequest, Shape
from suanli.scheduler.sharing import Demand
from suanli.scheduler.snapshot import PoolState


class Code(Enum):
    """What a filter found about one candidate."""

    FITS = "fits"
    # Normal: the candidate cannot take the job (now); the reason goes to the job's explanation.
    UNSCHEDULABLE = "unschedulable"
    # Not normal: the filter could not decide (a bug, or input it cannot read). The job gets an
    # error, as if deciding for it had raised, and the cycle goes on for every other job.
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class FilterStatus:
    """A filter's answer: ``FITS``, or a code with a reason a person can read."""

    code: Code
    reason: str = ""

    @classmethod
    def unschedulable(cls, reason: str) -> FilterStatus:
        return cls(Code.UNSCHEDULABLE, reason)

    @classmethod
    def error(cls, reason: str) -> FilterStatus:
        return cls(Code.ERROR, reason)


FITS = FilterStatus(Code.FITS)


class FilterError(Exception):
    """A filter answered ERROR: the cycle turns it into the job's error, as any exception."""

    def __init__(self, plugin: str, reason: str) -> None:
        super().__init__(f"the {plugin} filter failed: {reason}")
        self.plugin = plugin
        self.reason = reason


@dataclass(slots=True, eq=False)
class Reservation:
    """The backfill reservation (``backfill.py``): where and when the first job that cannot
    start will run, and what the reserved pool will have free then."""

    job_id: int
    pool: PoolState
    slots: int
    node_indices: tuple[int, ...]
    start: float  # shadow time, epoch seconds; math.inf when it waits on work without a time limit
    projected_free: list[int]  # per node at the shadow time, the reserved job's share removed

    def describe(self) -> str:
        when = (
            "when work without a time limit ends"
            if math.isinf(self.start)
            else "at " + datetime.fromtimestamp(self.start, UTC).strftime("%Y-%m-%d %H:%M UTC")
        )
        return f"job {self.job_id} holds a reservation on {self.pool.label}, expected to start {when}"

    def ends_in_time(self, shape: Shape, now: float) -> bool:
        return shape.time_limit is not None and now + shape.time_limit <= self.start


@dataclass(slots=True)
class CycleContext:
    """Facts fixed for one cycle, plus the backfill reservation once one is made."""

    now: float
    reservation: Reservation | None = None
    mix: Mix | None = None  # the workload packing keeps room for (scheduler/packing.py)
    # The node a node-choosing score picked in a pool (by pool index), for the job being placed.
    picks: dict[int, Pick] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way to run a shape: an accelerator alternative on a pool."""

    pool: PoolState
    model: str
    slots: int  # per node

    def price_per_hour(self, nodes: int) -> float:
        return self.pool.price * self.slots * nodes


class FilterPlugin:
    """Answers ``FITS`` when the candidate passes, else why not: ``FilterStatus.unschedulable(
    'needs 8 x A100-80G, 6 free')``, or ``FilterStatus.error(...)`` when it cannot decide.

    ``check_static`` may look only at the shape and the pool's fixed facts; ``check`` (called when
    ``dynamic`` is true) may also look at free capacity and the reservation.
    """

    name: ClassVar[str]
    dynamic: ClassVar[bool] = False
    # True when a dynamic failure lasts for the rest of the cycle (capacity only shrinks in a
    # cycle), so the candidate can be dropped for the shape.
    monotonic: ClassVar[bool] = False

    def check_static(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        return FITS

    def check(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        return FITS


class ScorePlugin:
    """Scores are in [0, 1], higher is better; a profile weights them.

    ``candidates`` are the shape's candidates that passed the static filters (to normalise
    against, as price does); a dynamic score is called only for those that also fit now.
    """

    name: ClassVar[str]
    dynamic: ClassVar[bool] = False
    needs_mix: ClassVar[bool] = False  # reads ``ctx.mix``

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        raise NotImplementedError


class QueueOrderPlugin:
    """Orders the queue by ``key``: a smaller key goes first."""

    name: ClassVar[str]

    def key(self, request: SchedulingRequest) -> tuple[float, ...]:
        raise NotImplementedError

    def order(self, queue: Sequence[SchedulingRequest]) -> list[SchedulingRequest]:
        return sorted(queue, key=self.key)

    def key_changes_after(self, request: SchedulingRequest) -> float:
        """Seconds of running after which this job's key changes (it moves back in the queue, so
        a time-sharing scheduler should look again); infinite for keys that never change."""
        return math.inf


# Values made on the hot path are plain slotted dataclasses: a frozen dataclass's __init__ costs
# several times more, and nothing mutates these after a cycle returns them.
@dataclass(slots=True)
class Rejection:
    """A candidate ruled out: by which plugin and why."""

    center: str
    pool: str | None
    plugin: str
    message: str

    def __str__(self) -> str:
        where = f"{self.center}/{self.pool}" if self.pool else self.center
        return f"{where}: {self.message} [{self.plugin}]"


@dataclass(slots=True)
class Choice:
    """Where a job goes, and the weighted scores that made that candidate win."""

    center: str
    pool: str
    pool_index: int
    accelerator: str
    slots: int
    node_indices: tuple[int, ...]
    price_per_hour: float
    scores: tuple[tuple[str, float], ...]
    total: float
    runner_up: tuple[str, float] | None = None
    backfilled: bool = False
    gpus: tuple[tuple[int, ...], ...] = ()  # per node, on a pool that shares GPUs
    demand: Demand | None = None  # what it takes per node there

    def reason(self) -> str:
        parts = ", ".join(f"{name} {value:.2f}" for name, value in self.scores)
        text = f"placed on {self.center}/{self.pool} ({self.accelerator}), score {self.total:.2f}"
        if parts:
            text += f" ({parts})"
        if self.runner_up:
            text += f"; next best {self.runner_up[0]} scored {self.runner_up[1]:.2f}"
        if self.backfilled:
            text += "; started early by backfill without delaying the reserved job"
        return text


@dataclass(slots=True)
class Decision:
    job_id: int
    choice: Choice | None = None
    rejections: tuple[Rejection, ...] = ()
    reservation: Reservation | None = None  # set on the job that holds the backfill reservation
    notes: list[str] = field(default_factory=list)
    # Not "unschedulable" but an error: deciding for this job raised (a bug, or a request that
    # cannot be built) or a filter answered ERROR. The cycle went on for every other job; the
    # caller fails this one.
    error: str = ""

    @property
    def placed(self) -> bool:
        return self.choice is not None

    def explain(self) -> list[str]:
        if self.error:
            return [f"the scheduler cannot consider this job: {self.error}", *self.notes]
        if self.choice is not None:
            return [self.choice.reason(), *self.notes]
        lines = ["waiting: no center can take this job now"]
        if self.reservation is not None:
            lines.append(self.reservation.describe())
        lines += [str(r) for r in self.rejections]
        return lines + self.notes


@dataclass(slots=True)
class CycleResult:
    decisions: list[Decision]
    reservation: Reservation | None
    shapes_evaluated: int = 0

    @property
    def placed(self) -> list[Decision]:
        return [d for d in self.decisions if d.choice is not None]

    @property
    def waiting(self) -> list[Decision]:
        return [d for d in self.decisions if d.choice is None and not d.error]

    @property
    def errors(self) -> list[Decision]:
        return [d for d in self.decisions if d.error]
