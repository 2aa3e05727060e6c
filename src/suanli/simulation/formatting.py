"""How metrics read, in the report's table, the CLI and what-if comparisons: labels, units,
values and changes; and NaN as null for JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from suanli.simulation.metrics import Summary


@dataclass(frozen=True)
class Metric:
    key: str  # the Summary field
    label: str
    unit: str  # "h", "%", "CNY", "kg", "" ...
    better: str = ""  # "lower", "higher" or "" (neither)


METRICS: tuple[Metric, ...] = (
    Metric("jobs", "jobs", ""),
    Metric("finished", "finished", "", "higher"),
    Metric("never_ran", "never ran", "", "lower"),
    Metric("jct_mean_h", "JCT mean", "h", "lower"),
    Metric("jct_median_h", "JCT median", "h", "lower"),
    Metric("jct_p95_h", "JCT p95", "h", "lower"),
    Metric("jct_p99_h", "JCT p99", "h", "lower"),
    Metric("jct_max_h", "JCT max", "h", "lower"),
    Metric("queue_mean_h", "queueing mean", "h", "lower"),
    Metric("queue_median_h", "queueing median", "h", "lower"),
    Metric("queue_p95_h", "queueing p95", "h", "lower"),
    Metric("queue_p99_h", "queueing p99", "h", "lower"),
    Metric("makespan_h", "makespan", "h", "lower"),
    Metric("utilization", "utilization", "%", "higher"),
    Metric("slowdown_mean", "slowdown mean", "x", "lower"),
    Metric("slowdown_max", "slowdown max", "x", "lower"),
    Metric("ftf_mean", "finish-time fairness mean", "x", "lower"),
    Metric("ftf_max", "finish-time fairness max", "x", "lower"),
    Metric("jain_index", "Jain's index (groups)", "", "higher"),
    Metric("preemptions", "preemptions", ""),
    Metric("cost", "cost of the jobs' run time", "CNY", "lower"),
    Metric("carbon_kg", "carbon", "kg CO2", "lower"),
    Metric("cycles", "scheduler cycles", ""),
    Metric("decision_s", "time in the scheduler", "s"),
    Metric("wall_s", "simulation wall time", "s"),
)

_NOT_METRICS = frozenset({"workload", "fleet", "profile"})


def metrics_of(summary: Summary) -> list[Metric]:
    """The metrics ``summary`` has, in :data:`METRICS` order, then any other number it carries
    (labelled by its field name), so a new Summary field shows up without a change here."""
    present = {f.name for f in fields(summary)} - _NOT_METRICS
    known = [m for m in METRICS if m.key in present]
    others = sorted(present - {m.key for m in known})
    return known + [Metric(key, key.replace("_", " "), "h" if key.endswith("_h") else "") for key in others]


def format_value(value: object, unit: str = "") -> str:
    """How a metric reads in the table: ``3.67 h``, ``13.1 %``, ``1,234 CNY``; ``-`` for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if unit == "%":
        return f"{value * 100:.1f} %"
    if isinstance(value, int):
        text = f"{value:,}"
    elif unit in ("CNY", "kg CO2") or abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if value else "0"
    return f"{text} {unit}" if unit else text


def format_change(base: object, other: object, unit: str = "") -> str:
    """``-4.40 h (-86%)``; ``-`` where either side is missing."""
    if not isinstance(base, int | float) or not isinstance(other, int | float):
        return "-"
    if not (math.isfinite(base) and math.isfinite(other)):
        return "-"
    delta = other - base
    if delta == 0:
        return "same"
    if unit == "%":
        return f"{delta * 100:+.1f} points"
    text = format_value(delta, unit)
    text = text if text.startswith("-") else "+" + text
    if base:
        text += f" ({delta / abs(base):+.0%})"
    return text


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: a metric with no jobs to measure is null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
