"""What a person looks at after `suanli simulate`: one self-contained HTML file with plots, and
the per-job CSV and summary JSON for scripts.

:func:`write_report` takes one or more runs (a label, the :class:`SimulationResult` and its
:class:`Summary`) and writes a single HTML file: a table of the metrics with the runs as
columns, the CDFs of job completion time and queueing delay, accelerator utilization over time
and the mean JCT of each job group (VC, tenant). Plots are PNGs drawn with matplotlib's Agg
canvas (no pyplot, no global state) and embedded as base64; the page loads nothing from the
network. Series are cut to a few thousand points, so the 82k-job Philly trace takes about a
second. Every text that comes from data (labels, names, groups) is HTML-escaped.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from suanli.simulation.engine import SimulationResult
from suanli.simulation.metrics import Summary, allocation_curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_POINTS = 2000  # per series in a plot: enough for the eye, cheap to draw
MAX_GROUPS = 20  # groups shown in the per-group bars, the busiest first


@dataclass(frozen=True)
class Run:
    """One simulation run as the report shows it."""

    label: str
    result: SimulationResult
    summary: Summary


RunLike = Run | tuple[str, SimulationResult, Summary]


def as_runs(runs: Iterable[RunLike]) -> list[Run]:
    return [run if isinstance(run, Run) else Run(*run) for run in runs]


# -- metrics: labels, units, formats -------------------------------------------------------------


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


# -- the HTML report ------------------------------------------------------------------------------


def write_report(
    path: Path | str,
    runs: Iterable[RunLike],
    *,
    title: str | None = None,
    headline: str | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Writes the report for ``runs`` to ``path`` (parents created) and returns the path.

    ``headline`` is a sentence shown first (a what-if verdict); ``notes`` are lines under it.
    With two runs the table gets a column with the second's change from the first.
    """
    chosen = as_runs(runs)
    if not chosen:
        raise ValueError("a report needs at least one run")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(chosen, title=title, headline=headline, notes=notes), encoding="utf-8")
    return path


def render_report(
    runs: Sequence[Run], *, title: str | None = None, headline: str | None = None, notes: Sequence[str] = ()
) -> str:
    first = runs[0].summary
    title = title or (
        f"{first.workload} on {first.fleet}, profile {first.profile}"
        if len(runs) == 1
        else f"{first.workload}: " + " vs ".join(r.label for r in runs)
    )
    series = [_Series.of(run) for run in runs]
    figures = [
        ("Job completion time", _cdf_figure(series, "jct", "job completion time")),
        ("Queueing delay", _cdf_figure(series, "queued", "queueing delay")),
        ("Accelerator utilization over time", _utilization_figure(series)),
        ("GPUs allocated as arrivals grow", _allocation_figure(series)),
        ("Mean job completion time per group", _group_figure(series)),
    ]
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if headline:
        parts.append(f'<p class="headline">{e(headline)}</p>')
    if notes:
        parts.append("<ul class='notes'>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    parts.append(_runs_line(runs))
    parts.append("<h2>Summary</h2>")
    parts.append(_table(runs))
    for heading, figure in figures:
        if figure is None:
            continue
        parts.append(f"<h2>{e(heading)}</h2>")
        parts.append(f'<img alt="{e(heading, quote=True)}" src="data:image/png;base64,{png_base64(figure)}">')
    parts.append(
        "<p class='foot'>Made by <code>suanli simulate</code>. Times are hours from submission; "
        "utilization counts accelerators (not CPU cores) busy over the fleet's accelerators. "
        "Definitions: docs/simulation.md.</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.headline { font-size: 1.15em; background: #eef6ee; border-left: 4px solid #3a7; padding: .6em 1em; }
.runs, .foot { color: #555; } .foot { font-size: .85em; margin-top: 3em; }
table { border-collapse: collapse; } th, td { padding: .25em .8em; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f6f6f6; } td.v { text-align: right; font-variant-numeric: tabular-nums; }
td.better { color: #17692f; } td.worse { color: #a4262c; }
img { max-width: 100%; height: auto; }
"""


def _runs_line(runs: Sequence[Run]) -> str:
    e = html.escape
    items = [
        f"<li><b>{e(r.label)}</b>: {e(r.summary.workload)} on fleet {e(r.summary.fleet)} "
        f"({r.result.capacity:,} accelerators), profile {e(r.summary.profile)}</li>"
        for r in runs
    ]
    return "<ul class='runs'>" + "".join(items) + "</ul>"


def _table(runs: Sequence[Run]) -> str:
    e = html.escape
    compare = len(runs) == 2
    head = "<tr><th>metric</th>" + "".join(f"<th>{e(r.label)}</th>" for r in runs)
    head += "<th>change</th></tr>" if compare else "</tr>"
    rows = [head]
    for metric in metrics_of(runs[0].summary):
        values = [getattr(r.summary, metric.key, None) for r in runs]
        cells = "".join(f'<td class="v">{e(format_value(v, metric.unit))}</td>' for v in values)
        if compare:
            cells += f'<td class="v {_tone(metric, values[0], values[1])}">'
            cells += f"{e(format_change(values[0], values[1], metric.unit))}</td>"
        rows.append(f"<tr><td>{e(metric.label)}</td>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _tone(metric: Metric, base: object, other: object) -> str:
    if not metric.better or not isinstance(base, int | float) or not isinstance(other, int | float):
        return ""
    if not (math.isfinite(base) and math.isfinite(other)) or math.isclose(base, other, rel_tol=1e-9, abs_tol=1e-12):
        return ""
    lower = other < base
    return "better" if lower == (metric.better == "lower") else "worse"


# -- data for the plots ---------------------------------------------------------------------------


@dataclass
class _Series:
    label: str
    jct: np.ndarray  # hours, finished jobs
    queued: np.ndarray  # hours, finished jobs
    groups: dict[str, tuple[int, float]]  # group -> (finished jobs, mean JCT hours)
    times: np.ndarray  # hours since the first submission: the busy step function's moments
    utilization: np.ndarray  # share of the accelerators busy from each moment on
    end_h: float
    allocation: list[tuple[float, float]]  # (arrived demand, allocated), shares of the fleet

    @classmethod
    def of(cls, run: Run) -> _Series:
        records = run.result.records
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
        busy = run.result.busy
        capacity = run.result.capacity
        times = (np.array([t for t, _ in busy], float) - first) / 3600
        values = np.array([v for _, v in busy], float) / capacity if capacity > 0 else np.zeros(len(busy))
        return cls(
            label=run.label,
            jct=np.sort(jct),
            queued=np.sort((start - submit) / 3600),
            groups={g: (int(n), total / n) for g, (n, total) in sums.items()},
            times=times,
            utilization=values,
            end_h=(last - first) / 3600,
            allocation=allocation_curve(run.result),
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


def _cdf_figure(series: Sequence[_Series], attribute: str, what: str) -> Figure | None:
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


def _utilization_figure(series: Sequence[_Series]) -> Figure | None:
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


def _allocation_figure(series: Sequence[_Series]) -> Figure | None:
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


def _group_figure(series: Sequence[_Series]) -> Figure | None:
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


# -- files for scripts ----------------------------------------------------------------------------

JOB_COLUMNS = ("id", "group", "gpus", "submit_s", "start_s", "end_s", "center", "pool", "accelerator")


def write_outputs(folder: Path | str, runs: Iterable[RunLike]) -> list[Path]:
    """``summary.json`` and ``jobs.csv`` (one row per job) for each run; returns the files written.

    One run writes them in ``folder``; several write each run's in a subfolder named after its
    label (``folder/base/summary.json``, ``folder/what-if/jobs.csv``).
    """
    chosen = as_runs(runs)
    folder = Path(folder)
    written: list[Path] = []
    for run in chosen:
        where = folder if len(chosen) == 1 else folder / slug(run.label)
        where.mkdir(parents=True, exist_ok=True)
        summary = where / "summary.json"
        summary.write_text(json.dumps(finite(run.summary.as_dict()), indent=2) + "\n")
        jobs = where / "jobs.csv"
        with jobs.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(JOB_COLUMNS)
            for r in run.result.records:
                writer.writerow(
                    [r.job.id, r.job.group, r.job.gpus, r.submit_s, r.start_s, r.end_s, r.center, r.pool, r.accelerator]
                )
        written += [summary, jobs]
    return written


def slug(label: str) -> str:
    """A label as a folder name: ``what-if (more-910b)`` -> ``what-if-more-910b``."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", label).strip("-.") or "run"


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: a metric with no jobs to measure is null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
