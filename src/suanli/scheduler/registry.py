"""Profiles: which plugins a scheduler runs, by name, and their weights.

The plugins themselves are listed by name in ``plugins/table.py``. A profile in config looks like::

    scheduler:
      queue_order: priority
      filters: [center-state, constraints, fit]
      scores: {price: 1.0, packing: 0.25}
      backfill: true
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from suanli.domain.errors import InvalidSpec


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    queue_order: str = "priority"
    filters: tuple[str, ...] = ("center-state", "constraints", "fit")
    # Price leads; packing breaks near-ties (a pool 100% fuller is worth a 25% higher price).
    scores: dict[str, float] = Field(default_factory=lambda: {"price": 1.0, "packing": 0.25})
    backfill: bool = True
    # Time sharing (simulator only, for now): every round_s the whole active set is scheduled
    # afresh in queue order, and running jobs that lose their place are preempted.
    preemptive: bool = False
    round_s: float = Field(default=360.0, gt=0)
    # Where a simulation takes the run times a service-aware order reads: "oracle" (the trace's
    # true durations), "history" (the mean of the group's finished jobs), or "none".
    estimates: str = Field(default="none", pattern="^(none|oracle|history)$")
    # A round-based time-sharing policy (scheduler/timeshare.py) choosing who runs on which
    # model each round; the queue order then keeps its choice (queue_order: priority).
    time_share: str = Field(
        default="", pattern="^(|max-min-fairness|max-min-fairness-agnostic|fair-throughput|fair-throughput-attained)$"
    )

    @field_validator("scores")
    @classmethod
    def _non_negative(cls, scores: dict[str, float]) -> dict[str, float]:
        for name, weight in scores.items():
            if weight < 0:
                raise ValueError(f"score weight for {name!r} must not be negative")
        return scores

    def check_names(self) -> None:
        # Imported here, not at the top: settings and the CLI import this module, and the plugins
        # bring numpy, which commands that never schedule should not load.
        from suanli.scheduler.plugins.table import FILTERS, QUEUE_ORDERS, SCORES

        if self.queue_order not in QUEUE_ORDERS:
            raise InvalidSpec(_unknown("queue order", self.queue_order, QUEUE_ORDERS), field="queue_order")
        for name in self.filters:
            if name not in FILTERS:
                raise InvalidSpec(_unknown("filter", name, FILTERS), field="filters")
        for name in self.scores:
            if name not in SCORES:
                raise InvalidSpec(_unknown("score", name, SCORES), field="scores")

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> Profile:
        profile = cls.model_validate(dict(data or {}))
        profile.check_names()
        return profile


def _unknown(kind: str, name: str, known: Mapping[str, object]) -> str:
    return f"unknown {kind} plugin {name!r}; available: {', '.join(sorted(known))}"


PROFILES: dict[str, Profile] = {
    "default": Profile(),
    "spread": Profile(name="spread", scores={"price": 1.0, "load-balance": 1.0}),
    "green": Profile(name="green", scores={"carbon": 2.0, "price": 1.0, "packing": 0.5}),
    "fifo": Profile(name="fifo", queue_order="fifo", backfill=False),
    "sjf": Profile(name="sjf", queue_order="shortest-first", backfill=False, estimates="oracle"),
    "srtf": Profile(name="srtf", queue_order="shortest-first", backfill=False, preemptive=True, estimates="oracle"),
    "qssf": Profile(name="qssf", queue_order="shortest-first", backfill=False, estimates="history"),
    "las": Profile(name="las", queue_order="las", backfill=False, preemptive=True),
    "srtf-fast": Profile(
        name="srtf-fast",
        queue_order="shortest-first",
        backfill=False,
        preemptive=True,
        estimates="oracle",
        scores={"speed": 1.0},
    ),
    # Packing GPU-sharing pods (the openb traces): which node and GPU each pod goes to.
    "fgd": Profile(name="fgd", queue_order="fifo", backfill=False, scores={"fragmentation": 1.0}),
    "best-fit": Profile(name="best-fit", queue_order="fifo", backfill=False, scores={"best-fit": 1.0}),
    "random-fit": Profile(name="random-fit", queue_order="fifo", backfill=False, scores={"random": 1.0}),
    "gavel": Profile(name="gavel", backfill=False, preemptive=True, time_share="max-min-fairness"),
    "gavel-agnostic": Profile(
        name="gavel-agnostic", backfill=False, preemptive=True, time_share="max-min-fairness-agnostic"
    ),
    # Suanli's own time sharing for average JCT (timeshare.FairThroughput): each round, the most
    # normalized throughput with comparative advantage across models, weighted by finish-time
    # fairness so far, which also keeps any job from starving. "suanli-jct" reads the trace's true
    # run times (oracle), as srtf does; "suanli-jct-attained" only the service jobs received.
    "suanli-jct": Profile(
        name="suanli-jct", backfill=False, preemptive=True, estimates="oracle", time_share="fair-throughput"
    ),
    "suanli-jct-attained": Profile(
        name="suanli-jct-attained", backfill=False, preemptive=True, time_share="fair-throughput-attained"
    ),
}
