"""Capacity planning: the same workload on two fleets, compared side by side, in one sentence.

:func:`compare` is pure: from the two fleets and the two runs' summaries it derives what changed
in capacity (accelerators per model per center, added or removed), the metrics side by side
with their change, and a plain-language verdict such as "adding 64 Ascend910B at guiyang-910b
cuts p95 queueing from 5.1 h to 0.7 h and mean JCT from 9.2 h to 4.0 h; the jobs' run time
costs 1,234 CNY more (+12%)".
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from suanli.domain.accelerators import CPU
from suanli.simulation.fleet import Fleet
from suanli.simulation.formatting import finite, metrics_of
from suanli.simulation.metrics import Summary

# About the simulator's own work, not the fleet: left out of the side-by-side rows.
SIMULATOR_METRICS = frozenset({"cycles", "decision_s", "wall_s"})


@dataclass(frozen=True)
class CapacityChange:
    """Accelerators of one model at one center, before and after."""

    center: str
    accelerator: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before

    def describe(self) -> str:
        """``adding 64 Ascend910B at guiyang-910b (a new center)``, ``removing 16 A100-80G at qd``."""
        what = "adding" if self.delta > 0 else "removing"
        unit = "CPU cores" if self.accelerator == CPU else self.accelerator
        where = f"at {self.center}"
        if self.before == 0:
            where += " (new)" if self.delta > 0 else ""
        elif self.after == 0:
            where += " (all of them)"
        return f"{what} {abs(self.delta):,} {unit} {where}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "center": self.center,
            "accelerator": self.accelerator,
            "before": self.before,
            "after": self.after,
            "change": self.delta,
        }


@dataclass(frozen=True)
class Row:
    """One metric side by side: ``change`` is what-if minus base, ``change_pct`` relative to base."""

    metric: str
    label: str
    unit: str
    base: float | int | None
    what_if: float | int | None
    change: float | None
    change_pct: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "base": self.base,
            "what_if": self.what_if,
            "change": self.change,
            "change_pct": self.change_pct,
        }


@dataclass(frozen=True)
class Comparison:
    base_fleet: str
    what_if_fleet: str
    capacity: tuple[CapacityChange, ...]
    rows: tuple[Row, ...]
    verdict: str
    base: Summary
    what_if: Summary

    def row(self, metric: str) -> Row:
        for row in self.rows:
            if row.metric == metric:
                return row
        raise KeyError(metric)

    def as_dict(self) -> dict[str, Any]:
        """For ``-o json``: ``{base, what_if, capacity, changes, verdict}``; NaN is null."""
        return {
            "base": finite(self.base.as_dict()),
            "what_if": finite(self.what_if.as_dict()),
            "capacity": [c.as_dict() for c in self.capacity],
            "changes": {row.metric: row.as_dict() for row in self.rows},
            "verdict": self.verdict,
        }


# -- capacity ------------------------------------------------------------------------------------


def capacity_by_center(fleet: Fleet) -> dict[tuple[str, str], int]:
    """Accelerators (CPU cores for CPU pools) per (center, canonical model)."""
    catalog = fleet.catalog()
    counts: Counter[tuple[str, str]] = Counter()
    for center in fleet.centers:
        for pool in center.pools:
            counts[(center.name, catalog.canonical(pool.accelerator))] += pool.accelerators
    return dict(counts)


def capacity_changes(base: Fleet, what_if: Fleet) -> tuple[CapacityChange, ...]:
    """What ``what_if`` adds or removes against ``base``, center by center, model by model;
    additions first, then removals, the biggest first."""
    before, after = capacity_by_center(base), capacity_by_center(what_if)
    changes = [
        CapacityChange(center, model, before.get((center, model), 0), after.get((center, model), 0))
        for center, model in dict.fromkeys([*before, *after])
        if before.get((center, model), 0) != after.get((center, model), 0)
    ]
    return tuple(sorted(changes, key=lambda c: (c.delta < 0, -abs(c.delta), c.center, c.accelerator)))


def gpu_capacity(fleet: Fleet) -> int:
    return sum(n for (_, model), n in capacity_by_center(fleet).items() if model != CPU)


def provisioned_cost(fleet: Fleet, hours: float) -> float:
    """What keeping every accelerator of the fleet for ``hours`` costs at its pool's price,
    busy or idle (the operator's view; ``Summary.cost`` is what the jobs' run time costs)."""
    if not math.isfinite(hours):
        return math.nan
    total = 0.0
    for center in fleet.centers:
        for pool in center.pools:
            if pool.accelerator != CPU:
                total += pool.accelerators * pool.price_per_accelerator_hour * hours
    return total


# -- the comparison ------------------------------------------------------------------------------


def compare(base_fleet: Fleet, what_if_fleet: Fleet, base: Summary, what_if: Summary) -> Comparison:
    """Both runs side by side, the capacity change, and the verdict."""
    rows = [
        _row(m.key, m.label, m.unit, getattr(base, m.key, None), getattr(what_if, m.key, None))
        for m in metrics_of(base)
        if m.key not in SIMULATOR_METRICS
    ]
    rows.insert(
        0, _row("accelerators", "accelerators in the fleet", "", gpu_capacity(base_fleet), gpu_capacity(what_if_fleet))
    )
    rows.append(
        _row(
            "fleet_cost",
            "fleet cost over the makespan (busy or idle)",
            "CNY",
            provisioned_cost(base_fleet, base.makespan_h),
            provisioned_cost(what_if_fleet, what_if.makespan_h),
        )
    )
    capacity = capacity_changes(base_fleet, what_if_fleet)
    return Comparison(
        base_fleet=base_fleet.name,
        what_if_fleet=what_if_fleet.name,
        capacity=capacity,
        rows=tuple(rows),
        verdict=verdict(capacity, base, what_if, base_fleet, what_if_fleet),
        base=base,
        what_if=what_if,
    )


def verdict(
    capacity: tuple[CapacityChange, ...], base: Summary, what_if: Summary, base_fleet: Fleet, what_if_fleet: Fleet
) -> str:
    """One sentence: the capacity change, then what it does to queueing, JCT and cost."""
    if capacity:
        subject = _join([c.describe() for c in capacity])
    elif base_fleet.model_dump(exclude={"name"}) == what_if_fleet.model_dump(exclude={"name"}):
        subject = "the same fleet"
    else:
        subject = "changing the fleet's prices or node shapes (no change in accelerators)"
    effects = []
    # p95 queueing is the planner's figure; when even the p95 job does not wait, the mean tells more.
    if _positive(base.queue_p95_h) or _positive(what_if.queue_p95_h):
        effects.append(_effect("p95 queueing", base.queue_p95_h, what_if.queue_p95_h))
    else:
        effects.append(_effect("mean queueing", base.queue_mean_h, what_if.queue_mean_h))
    effects.append(_effect("mean JCT", base.jct_mean_h, what_if.jct_mean_h))
    sentence = f"{subject} {_join(effects)}"
    if what_if.never_ran != base.never_ran:
        sentence += f", and jobs that never run go from {base.never_ran:,} to {what_if.never_ran:,}"
    if base.cost or what_if.cost:
        sentence += "; the jobs' run time " + _cost(base.cost, what_if.cost)
        held_before = provisioned_cost(base_fleet, base.makespan_h)
        held_after = provisioned_cost(what_if_fleet, what_if.makespan_h)
        if capacity and math.isfinite(held_before) and math.isfinite(held_after):
            sentence += ", and keeping the whole fleet over the makespan " + _cost(held_before, held_after)
    return sentence[0].upper() + sentence[1:] + "."


def _effect(what: str, before: float, after: float) -> str:
    if not (math.isfinite(before) and math.isfinite(after)):
        return f"leaves {what} unmeasured (no job finished)"
    unit, scale = ("h", 1.0) if max(before, after) >= 1 else ("min", 60.0)
    a, b = _number(before * scale), _number(after * scale)
    if a == b:
        return f"leaves {what} at {a} {unit}"
    verb = "cuts" if after < before else "raises"
    return f"{verb} {what} from {a} {unit} to {b} {unit}"


def _cost(before: float, after: float) -> str:
    delta = after - before
    if abs(delta) < 0.5:
        return f"costs the same ({before:,.0f} CNY)"
    change = f" ({delta / before:+.0%})" if before else ""
    return f"costs {abs(delta):,.0f} CNY {'more' if delta > 0 else 'less'}{change}"


def _number(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 100 else f"{value:,.0f}"


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _row(metric: str, label: str, unit: str, base: object, what_if: object) -> Row:
    def clean(value: object) -> float | int | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value if math.isfinite(value) else None

    b, w = clean(base), clean(what_if)
    change = None if b is None or w is None else w - b
    pct = None if change is None or not b else change / abs(b)
    return Row(metric, label, unit, b, w, change, pct)
