"""The report's figures: CDFs of job completion time and queueing delay, utilization over time, GPUs
allocated as arrivals grow, and mean JCT per group; drawn with matplotlib's Agg canvas (no pyplot,
no global state) as PNGs, each series cut to a few thousand points."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from suanli.simulation.engine import SimulationResult
from suanli.simulation.metrics import allocation_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_POINTS = 2000  # per series in a plot: enough for the eye, cheap to draw
MAX_GROUPS = 20  # groups shown in the per-group bars, the busiest first


@dataclass
class RunSeries:
    label: str
    jct: np.ndarray  # hours, finished jobs
    queued: np.ndarray  # hours, finished jobs
    groups: dict[str, tuple[int, float]]  # group -> (finished jobs, mean JCT hours)
    times: np.ndarray  # hours since the first submission: the busy step function's moments
    utilization: np.ndarray  # share of the accelerators busy from each moment on
    end_h: float
    allocation: list[tuple[float, float]]  # (arrived demand, allocated), shares of the fleet

    @classmethod
    def of(cls, label: str, result: SimulationResult) -> RunSeries:
        records = result.records
        done = [r for r in records if r.end_s is not None and r.start_s is not None]
        submit = np.fromiter((r.submit_s for r in done), float, len(done))
        start = np.fromiter((r.start_s or 0.0 for r in done), float, len(done))
        end = np.fromiter((r.end_s or 0.0 for r in done), float, len(done))
        jct = (end - submit) / 3600
        sums: dict[str, list[float]] = {}
        for record, value in zip(done, jct.tolist(), strict=True):
            entry = sums.setdefault(record.job.group or "(no group)", [0, 0.0])
            entry[0] += 1
            entry[1] += value
        first = min((r.submit_s for r in records), default=0.0)
        last = float(end.max()) if end.size else first
        busy = result.busy
        capacity = result.capacity
        times = (np.array([t for t, _ in busy], float) - first) / 3600
        values = np.array([v for _, v in busy], float) / capacity if capacity > 0 else np.zeros(len(busy))
        return cls(
            label=label,
            jct=np.sort(jct),
            queued=np.sort((start - submit) / 3600),
            groups={g: (int(n), total / n) for g, (n, total) in sums.items()},
            times=times,
            utilization=values,
            end_h=(last - first) / 3600,
            allocation=allocation_curve(result),
        )


def cdf_points(sorted_values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x, share of values <= x) at up to ``max_points`` evenly spaced ranks, the last included."""
    n = sorted_values.size
    if n == 0:
        return np.empty(0), np.empty(0)
    ranks = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    return sorted_values[ranks], (ranks + 1) / n


def resample_steps(
    times: np.ndarray, values: np.ndarray, start: float, end: float, buckets: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """The step function (value ``values[i]`` from ``times[i]`` on) averaged over ``buckets``
    equal slices of [start, end]: each slice's exact time-weighted mean, so no peak is invented
    and the mean of the result is the utilization over [start, end]."""
    if end <= start or times.size == 0:
        return np.array([start, end]), np.zeros(2)
    edges = np.linspace(start, end, buckets + 1)
    # The area under the steps up to each change point; linear in between, so exact at any edge.
    spans = np.diff(np.append(times, max(end, float(times[-1]))))
    area = np.concatenate(([0.0], np.cumsum(values * spans)))
    knots = np.append(times, max(end, float(times[-1])))
    before = edges < knots[0]
    at_edges = np.interp(edges, knots, area)
    at_edges[before] = 0.0
    means = np.diff(at_edges) / np.diff(edges)
    return edges[:-1], means


# -- figures --------------------------------------------------------------------------------------

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def plain_text(value: str) -> str:
    """Data text as matplotlib draws it literally: no mathtext, no hidden legend entries."""
    value = value.replace("$", r"\$")
    return " " + value if value.startswith("_") else value


def figure_axes(height: float = 4.2) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.5, height), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.grid(True, alpha=0.3)
    return figure, axes


def cdf_figure(series: Sequence[RunSeries], attribute: str, what: str) -> Figure | None:
    if all(getattr(s, attribute).size == 0 for s in series):
        return None
    floor = 1 / 60  # one minute: below it, a wait is no wait to a person; on a log axis, 0 has no place
    columns: list[np.ndarray] = [getattr(s, attribute) for s in series]
    everything = np.concatenate(columns)
    top = float(everything.max()) if everything.size else 1.0
    log = top > 100 * floor
    figure, axes = figure_axes()
    for i, s in enumerate(series):
        x, y = cdf_points(getattr(s, attribute))
        if not x.size:
            continue
        if log:
            x = np.maximum(x, floor)
        zero = float(np.mean(getattr(s, attribute) <= (floor if log else 0.0))) if attribute == "queued" else None
        label = plain_text(s.label) + (f" ({zero:.0%} of jobs wait < 1 min)" if zero is not None and log else "")
        median = float(np.median(getattr(s, attribute)))
        label += f", median {_hours(median)}"
        axes.step(
            np.concatenate(([x[0]], x)), np.concatenate(([0.0], y)), where="post", color=COLORS[i % 8], label=label
        )
    if log:
        axes.set_xscale("log")
        axes.set_xlim(left=floor)
        axes.set_xlabel(f"{what} (hours, log scale; under 1 minute drawn at 1 minute)")
    else:
        axes.set_xlim(left=0)
        axes.set_xlabel(f"{what} (hours)")
    # Most jobs not waiting at all flattens the curve against the top: zoom in on the rest.
    cut = floor if log else 0.0
    lowest = min((float(np.mean(values <= cut)) for values in columns if values.size), default=0.0)
    bottom = max(0.0, math.floor(lowest * 20) / 20 - 0.05) if lowest > 0.5 else 0.0
    axes.set_ylim(bottom, 1.005)
    axes.set_ylabel("share of finished jobs (CDF)")
    axes.yaxis.set_major_formatter(_percent())
    axes.set_title(f"Distribution of {what}" + (f" (y axis from {bottom:.0%})" if bottom else ""))
    axes.legend(loc="lower right")
    return figure


def utilization_figure(series: Sequence[RunSeries]) -> Figure | None:
    if not any(s.times.size and s.end_h > 0 for s in series):  # (in FGD's measure nothing ends)
        return None
    figure, axes = figure_axes()
    end = max(s.end_h for s in series)
    for i, s in enumerate(series):
        x, y = resample_steps(s.times, s.utilization, 0.0, max(s.end_h, 1e-9))
        mean = float(np.mean(y)) if y.size else 0.0
        label = f"{plain_text(s.label)} (mean {mean:.0%})"
        axes.step(x, y, where="post", color=COLORS[i % 8], linewidth=1, label=label)
    axes.set_xlim(0, max(end, 1e-9))
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("time since the first submission (hours)")
    axes.set_ylabel("accelerators busy (share of the fleet)")
    axes.yaxis.set_major_formatter(_percent())
    axes.set_title("Accelerator utilization (time-weighted means over short slices)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(3, len(series)), frameon=False)
    return figure


# Arrivals asking for more than this many times the fleet make the allocation view unreadable
# (a long trace's demand piles up); it is FGD's view of packing, for runs that fill a fleet once.
ALLOCATION_VIEW_MAX_DEMAND = 5.0


def allocation_figure(series: Sequence[RunSeries]) -> Figure | None:
    shown = [s for s in series if s.allocation and s.allocation[-1][0] <= ALLOCATION_VIEW_MAX_DEMAND]
    if not shown:
        return None
    figure, axes = figure_axes()
    right = max(s.allocation[-1][0] for s in shown)
    axes.plot([0, min(1.0, right)], [0, min(1.0, right)], color="#bbb", linewidth=1, linestyle="--")
    for i, s in enumerate(shown):
        x, y = np.array(s.allocation[:: max(1, len(s.allocation) // MAX_POINTS)]).T
        at_full = next((a for asked, a in s.allocation if asked >= 1.0), None)
        label = plain_text(s.label) + (f" ({at_full:.1%} at 100%)" if at_full is not None else "")
        axes.plot(x, y, color=COLORS[i % 8], linewidth=1.2, label=label)
    axes.set_xlim(0, right)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("GPUs asked by the jobs arrived so far (share of the fleet)")
    axes.set_ylabel("GPUs allocated (share of the fleet)")
    axes.xaxis.set_major_formatter(_percent())
    axes.yaxis.set_major_formatter(_percent())
    axes.set_title("GPUs allocated as arrivals grow (dashed: every GPU asked for allocated)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(3, len(shown)), frameon=False)
    return figure


def group_figure(series: Sequence[RunSeries]) -> Figure | None:
    jobs: dict[str, int] = {}
    for s in series:
        for group, (n, _) in s.groups.items():
            jobs[group] = max(jobs.get(group, 0), n)
    if not jobs:
        return None
    shown = sorted(jobs, key=lambda g: (-jobs[g], g))[:MAX_GROUPS]
    shown.reverse()  # the busiest on top of a horizontal bar chart
    height = max(2.5, 0.8 + 0.28 * len(shown) * max(1, len(series)) ** 0.6)
    figure, axes = figure_axes(height)
    width = 0.8 / len(series)
    positions = np.arange(len(shown), dtype=float)
    for i, s in enumerate(series):
        means = [s.groups.get(g, (0, 0.0))[1] for g in shown]
        axes.barh(
            positions + (len(series) - 1 - i) * width - 0.4 + width / 2,
            means,
            height=width,
            color=COLORS[i % 8],
            label=plain_text(s.label),
        )
    axes.set_yticks(positions, [plain_text(f"{g} ({jobs[g]:,} jobs)") for g in shown])
    axes.set_xlabel("mean job completion time (hours)")
    more = len(jobs) - len(shown)
    axes.set_title("Mean JCT per group (VC, tenant)" + (f"; the {len(shown)} busiest of {len(jobs)}" if more else ""))
    axes.grid(True, axis="x", alpha=0.3)
    axes.grid(False, axis="y")
    if len(series) > 1:
        axes.legend(loc="lower right")
    return figure


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def percent_axis(axes: Axes) -> None:
    """Shows the y axis's shares (0-1) as percentages."""
    axes.yaxis.set_major_formatter(_percent())


def _hours(value: float) -> str:
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def png_base64(figure: Figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
