"""One HTML comparison report for a sweep: the combined table, and a plot per metric of each
profile (and fleet) against the load, with the seeds' min-max as error bars.

Built from the sweep's combined rows (``sweep.aggregate``), the same ones as summary.csv, so a
report can be made from any sweep, local or on Ray. Self-contained like the run report.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suanli.simulation.plots import COLORS, figure_axes, percent_axis, plain_text, png_base64
from suanli.simulation.report import CSS
from suanli.simulation.sweep.aggregate import is_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Row = dict[str, Any]

# (metric, what it is, shown as a percentage)
PLOTTED = (
    ("jct_mean_h", "mean job completion time (h)", False),
    ("jct_p95_h", "p95 job completion time (h)", False),
    ("queue_mean_h", "mean queueing delay (h)", False),
    ("utilization", "accelerator utilization", True),
    ("ftf_max", "worst finish-time fairness (JCT / time alone)", False),
    ("allocated_at_full_demand", "GPUs allocated when arrivals reach the fleet", True),
    ("cost", "cost", False),
)
LOAD_NAMES = {"jobs_per_hour": "arrival rate (jobs/h)", "time_scale": "time scale (x)", "fill_to": "fill (x fleet)"}


def write_sweep_report(path: Path | str, name: str, load_kind: str, combined: Sequence[Row]) -> Path:
    """Writes the report (parents created) and returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sweep_report(name, load_kind, combined), encoding="utf-8")
    return path


def render_sweep_report(name: str, load_kind: str, combined: Sequence[Row]) -> str:
    e = html.escape
    # A metric no run has a non-zero value of (no prices in the fleet, no job that ended) has
    # nothing to compare.
    shown = [plot for plot in PLOTTED if any(is_number(v := r.get(f"{plot[0]}_mean")) and v != 0 for r in combined)]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>sweep {e(name)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Sweep {e(name)}</h1>",
        f"<p class='runs'>{len(combined)} combination(s) of profile, load and fleet; "
        f"{sum(int(r.get('seeds') or 0) for r in combined)} simulation(s). "
        "Each value is the mean over seeds, with the min-max under it.</p>",
        _table(load_kind, combined, shown),
    ]
    for metric, what, pct in shown:
        figure = _figure(load_kind, combined, metric, what, pct)
        parts.append(f"<h2>{e(what[0].upper() + what[1:])}</h2>")
        parts.append(f'<img alt="{e(what, quote=True)}" src="data:image/png;base64,{png_base64(figure)}">')
    parts.append("<p class='foot'>Made by <code>suanli sweep --report</code>. Definitions: docs/simulation.md.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _label(row: Row, several_fleets: bool) -> str:
    label = str(row["profile"])
    return f"{label} on {row.get('fleet') or row['fleet_file']}" if several_fleets else label


def _series(combined: Sequence[Row]) -> dict[str, list[Row]]:
    """Rows by profile (and fleet, when there are several), each sorted by load."""
    several = len({r["fleet_file"] for r in combined}) > 1
    out: dict[str, list[Row]] = {}
    for row in combined:
        out.setdefault(_label(row, several), []).append(row)
    return {label: sorted(rows, key=lambda r: float(r["load"])) for label, rows in out.items()}


def _table(load_kind: str, combined: Sequence[Row], shown: Sequence[tuple[str, str, bool]]) -> str:
    e = html.escape
    head = f"<tr><th>profile</th><th>{e(LOAD_NAMES.get(load_kind, 'load'))}</th><th>seeds</th>"
    head += "".join(f"<th>{e(what)}</th>" for _, what, _ in shown) + "</tr>"
    rows = [head]
    for label, series in _series(combined).items():
        for row in series:
            cells = f"<td>{e(label)}</td><td class='v'>{float(row['load']):g}</td><td class='v'>{row.get('seeds')}</td>"
            for metric, _, pct in shown:
                cells += f"<td class='v'>{e(_span(row, metric, pct))}</td>"
            rows.append(f"<tr>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _span(row: Row, metric: str, pct: bool) -> str:
    mean, low, high = (row.get(f"{metric}_{part}") for part in ("mean", "min", "max"))
    if not is_number(mean):
        return "-"
    text = _number(mean, pct)
    if is_number(low) and is_number(high) and low != high:
        text += f" ({_number(low, pct)}-{_number(high, pct)})"
    return text


def _number(value: float, pct: bool) -> str:
    return f"{value:.1%}" if pct else f"{value:.3g}"


def _figure(load_kind: str, combined: Sequence[Row], metric: str, what: str, pct: bool) -> Figure:
    figure, axes = figure_axes()
    series = _series(combined)
    loads = sorted({float(r["load"]) for r in combined})
    for i, (label, rows) in enumerate(series.items()):
        points = [(float(r["load"]), r[f"{metric}_mean"], r[f"{metric}_min"], r[f"{metric}_max"]) for r in rows]
        points = [p for p in points if is_number(p[1])]
        if not points:
            continue
        # One load: side by side, a little apart, so the bars of each profile show.
        xs = [i if len(loads) == 1 else x for x, *_ in points]
        ys = [p[1] for p in points]
        low = [p[1] - p[2] if is_number(p[2]) else 0.0 for p in points]
        high = [p[3] - p[1] if is_number(p[3]) else 0.0 for p in points]
        axes.errorbar(
            xs,
            ys,
            yerr=[low, high],
            linestyle="-" if len(loads) > 1 else "none",
            marker="o",
            capsize=4,
            color=COLORS[i % len(COLORS)],
            label=plain_text(label),
        )
    if len(loads) == 1:
        axes.set_xticks(range(len(series)), [plain_text(label) for label in series])
        axes.set_xlabel(f"profile, at {LOAD_NAMES.get(load_kind, 'load')} {loads[0]:g}")
    else:
        axes.set_xlabel(LOAD_NAMES.get(load_kind, "load"))
    if pct:
        percent_axis(axes)
    axes.set_title(what[0].upper() + what[1:] + " (mean over seeds; bars: min-max)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(4, len(series)), frameon=False)
    return figure
