"""What a person looks at after `suanli simulate`: one self-contained HTML file with plots.

:func:`write_report` takes one or more runs (a label, the :class:`SimulationResult` and its
:class:`Summary`) and writes a single HTML file: a table of the metrics with the runs as
columns, the CDFs of job completion time and queueing delay, accelerator utilization over time
and the mean JCT of each job group (VC, tenant). Plots (``plots``) are PNGs embedded as base64;
the page loads nothing from the network. Series are cut to a few thousand points, so the 82k-job
Philly trace takes about a second. Every text that comes from data (labels, names, groups) is
HTML-escaped. The per-job CSV and summary JSON for scripts are ``outputs``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from suanli.simulation.engine import SimulationResult
from suanli.simulation.formatting import Metric, format_change, format_value, metrics_of
from suanli.simulation.metrics import Summary
from suanli.simulation.plots import (
    RunSeries,
    allocation_figure,
    cdf_figure,
    group_figure,
    png_base64,
    utilization_figure,
)


@dataclass(frozen=True)
class Run:
    """One simulation run as the report shows it."""

    label: str
    result: SimulationResult
    summary: Summary


RunLike = Run | tuple[str, SimulationResult, Summary]


def as_runs(runs: Iterable[RunLike]) -> list[Run]:
    return [run if isinstance(run, Run) else Run(*run) for run in runs]


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
    series = [RunSeries.of(run.label, run.result) for run in runs]
    figures = [
        ("Job completion time", cdf_figure(series, "jct", "job completion time")),
        ("Queueing delay", cdf_figure(series, "queued", "queueing delay")),
        ("Accelerator utilization over time", utilization_figure(series)),
        ("GPUs allocated as arrivals grow", allocation_figure(series)),
        ("Mean job completion time per group", group_figure(series)),
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
