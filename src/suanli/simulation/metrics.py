"""What a simulation run says about a policy: completion and queueing times, utilization,
fairness, cost and carbon.

Definitions (docs/simulation.md):
- JCT (job completion time): end minus submission; queueing delay: start minus submission.
- Makespan: from the first submission to the last end.
- Utilization: accelerator-seconds busy over accelerator-seconds available, from the first
  submission to the makespan's end (CPU pools are not counted).
- Allocated at full demand (the openb / FGD view, where pods arrive and stay): the share of the
  fleet's GPUs allocated when the GPUs asked by all arrivals so far first reach the fleet's size.
- Finish-time fairness (after Themis, NSDI'20): a job's JCT over its run time alone on the
  fleet's fastest model; 1 is as if it had the fleet to itself. Jain's index is taken over the
  groups' (VC, tenant) mean finish-time fairness: 1 when every group is slowed in the same
  proportion, 1/n when one group bears it all.
- Cost: each placement's price per hour (as the scheduler priced it) times the time it was held.
- Carbon: accelerator-hours held x ``watts_per_accelerator`` x the pool's carbon intensity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from suanli.simulation.engine import SimulationResult

WATTS_PER_ACCELERATOR = 400.0  # a typical training accelerator's board power under load


@dataclass(frozen=True)
class Summary:
    workload: str
    fleet: str
    profile: str
    jobs: int
    finished: int
    never_ran: int
    jct_mean_h: float
    jct_median_h: float
    jct_p95_h: float
    jct_p99_h: float
    jct_max_h: float
    queue_mean_h: float
    queue_median_h: float
    queue_p95_h: float
    queue_p99_h: float
    makespan_h: float
    utilization: float
    allocated_at_full_demand: float
    ftf_mean: float
    ftf_max: float
    jain_index: float
    preemptions: int
    cost: float
    carbon_kg: float
    cycles: int
    decision_s: float
    wall_s: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def summarize(result: SimulationResult, watts_per_accelerator: float = WATTS_PER_ACCELERATOR) -> Summary:
    done = result.finished
    jct = np.array([r.jct_s for r in done], dtype=float) / 3600
    queued = np.array([r.queued_s for r in done], dtype=float) / 3600
    ftf = np.array([(r.jct_s or 0) / r.ideal_s if r.ideal_s > 0 else 1.0 for r in done], dtype=float)
    first = min((r.submit_s for r in result.records), default=0.0)
    last = max((r.end_s or 0.0 for r in done), default=first)
    by_group: dict[str, list[float]] = {}
    for record, value in zip(done, ftf, strict=True):
        by_group.setdefault(record.job.group, []).append(float(value))
    return Summary(
        workload=result.workload,
        fleet=result.fleet,
        profile=result.profile,
        jobs=len(result.records),
        finished=len(done),
        never_ran=len(result.never_ran),
        jct_mean_h=_mean(jct),
        jct_median_h=_percentile(jct, 50),
        jct_p95_h=_percentile(jct, 95),
        jct_p99_h=_percentile(jct, 99),
        jct_max_h=_max(jct),
        queue_mean_h=_mean(queued),
        queue_median_h=_percentile(queued, 50),
        queue_p95_h=_percentile(queued, 95),
        queue_p99_h=_percentile(queued, 99),
        makespan_h=(last - first) / 3600,
        utilization=utilization(result.busy, result.capacity, first, last),
        allocated_at_full_demand=allocated_when_demand_reaches(result, 1.0),
        ftf_mean=_mean(ftf),
        ftf_max=_max(ftf),
        jain_index=jain([sum(v) / len(v) for v in by_group.values()]),
        preemptions=sum(r.preemptions for r in result.records),
        cost=float(sum(r.cost for r in result.records)),
        carbon_kg=float(
            sum(
                r.accelerator_s / 3600 * watts_per_accelerator / 1000 * r.carbon_intensity / 1000
                for r in result.records
            )
        ),
        cycles=result.cycles,
        decision_s=result.decision_s,
        wall_s=result.wall_s,
    )


def allocation_curve(result: SimulationResult) -> list[tuple[float, float]]:
    """How much of the fleet is allocated as arrivals grow (the openb / FGD view): at each
    arrival, (GPUs asked by all arrivals so far, GPUs allocated then), both as shares of the fleet."""
    if result.capacity <= 0:
        return []
    arrivals = sorted(result.records, key=lambda r: r.submit_s)
    busy, point, asked, curve = result.busy, 0, 0.0, []
    for record in arrivals:
        asked += record.job.gpu_demand
        while point + 1 < len(busy) and busy[point + 1][0] <= record.submit_s:
            point += 1
        allocated = busy[point][1] if busy and busy[point][0] <= record.submit_s else 0
        curve.append((asked / result.capacity, allocated / result.capacity))
    return curve


def allocated_when_demand_reaches(result: SimulationResult, share: float) -> float:
    """The share of the fleet allocated when arrivals first ask for ``share`` of it; NaN if they never do."""
    return next((allocated for asked, allocated in allocation_curve(result) if asked >= share), math.nan)


def utilization(busy: Sequence[tuple[float, float]], capacity: int, start: float, end: float) -> float:
    """Time-weighted share of ``capacity`` busy over [start, end], from the step function ``busy``."""
    if capacity <= 0 or end <= start:
        return 0.0
    area = 0.0
    for (moment, value), (following, _) in zip(busy, [*busy[1:], (end, 0)], strict=True):
        lo, hi = max(moment, start), min(following, end)
        if hi > lo:
            area += value * (hi - lo)
    return area / (capacity * (end - start))


def jain(values: Sequence[float]) -> float:
    """Jain's fairness index: (sum x)^2 / (n * sum x^2); 1.0 for no or equal values."""
    if not values:
        return 1.0
    total, squares = sum(values), sum(v * v for v in values)
    return 1.0 if squares == 0 else total * total / (len(values) * squares)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _max(values: np.ndarray) -> float:
    return float(values.max()) if values.size else math.nan


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan
