"""`suanli sweep`: many simulations (profiles x loads x seeds x fleets) in parallel, one comparison."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.output import OutputOption, note, out, print_json, progress_bar, state
from suanli.simulation import packaged

if TYPE_CHECKING:
    from suanli.simulation.sweep import Cell

WIDE = 110  # terminal columns from which the table shows min-max ranges

# What the table shows of each profile x load x fleet (summary.csv has every metric).
SHOWN = (
    ("jct_mean_h", "JCT h"),
    ("jct_p95_h", "JCT p95"),
    ("queue_mean_h", "queue h"),
    ("utilization", "util %"),
    ("jain_index", "Jain"),
    ("cost", "cost"),
    ("carbon_kg", "CO2 kg"),
    ("never_ran", "not run"),
)
# arrivals: fill (FGD's measure): nothing ends, so only how much of the fleet was allocated counts.
FILL_SHOWN = (("allocated_at_full_demand", "alloc % at 100%"), ("never_ran", "not run"))
PERCENT = {"utilization", "allocated_at_full_demand"}
LOAD_HEADERS = {"jobs_per_hour": "jobs/h", "fill_to": "fill", "time_scale": "speed"}


SpecFileArgument = Annotated[
    Path | None,
    typer.Argument(
        metavar="[SPEC.yaml]", help="the sweep (docs/sweeps.md); the options below add to it or replace its fields"
    ),
]
KindOption = Annotated[
    str | None, typer.Option("--kind", "-k", help="trace format: philly, openb, pollux, gavel, generic")
]
TraceOption = Annotated[
    str | None,
    typer.Option(
        "--trace",
        help="the trace file (gavel: simulation_throughputs.json), or the name of a trace that ships with "
        f"Suanli: {', '.join(packaged.TRACES)} (then --kind may be left out)",
    ),
]
TraceLoaderOption = Annotated[
    list[str] | None,
    typer.Option("--trace-option", help="a loader option KEY=VALUE, e.g. multi_gpu=true or submit=submit_time"),
]
ProfilesOption = Annotated[
    list[str] | None, typer.Option("--profile", "-p", help="a scheduler profile; repeat for several")
]
ArrivalsOption = Annotated[
    str | None,
    typer.Option(
        help="'trace' (as recorded) or 'fill': FGD's packing measure, jobs drawn from the trace arrive and "
        "never leave until they ask for LOAD x the fleet's GPUs (docs/sweeps.md)"
    ),
]
LoadsOption = Annotated[
    list[float] | None,
    typer.Option(
        "--load",
        help="gavel: jobs per hour; a real trace: time-scale factor (2 = arrivals twice as fast); "
        "--arrivals fill: how far to fill (1.3)",
    ),
]
SeedsOption = Annotated[
    list[int] | None, typer.Option("--seed", help="gavel: a generator seed; --arrivals fill: a draw; repeat")
]
FleetsOption = Annotated[
    list[str] | None,
    typer.Option("--fleet", help="a fleet YAML, or 'default' for the trace's own fleet; repeat for several"),
]
MaxJobsOption = Annotated[int | None, typer.Option(min=1, help="only the first N jobs of each workload")]
CycleIntervalOption = Annotated[
    float | None, typer.Option(min=0, help="virtual seconds between cycles (0: after every event)")
]
OracleTimeLimitsOption = Annotated[
    bool | None, typer.Option(help="tell the scheduler each job's true run time (backfill uses it)")
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", "-j", min=1, help="parallel processes [default: one per CPU]")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="run the cells as Ray tasks on this cluster: its GCS address HOST:PORT, 'auto', or ray://HOST:10001",
    ),
]
RayWorkingDirOption = Annotated[
    Path | None,
    typer.Option(help="with --ray-address: upload this folder as the tasks' working_dir (files under it)"),
]
OutDirOption = Annotated[Path | None, typer.Option("--out", help="write rows.csv, rows.json and summary.csv here")]
ReportOption = Annotated[
    Path | None,
    typer.Option("--report", help="write an HTML comparison report here: the table, and each metric against the load"),
]


def sweep(
    ctx: typer.Context,
    spec_file: SpecFileArgument = None,
    kind: KindOption = None,
    trace: TraceOption = None,
    trace_options: TraceLoaderOption = None,
    profiles: ProfilesOption = None,
    arrivals: ArrivalsOption = None,
    loads: LoadsOption = None,
    seeds: SeedsOption = None,
    fleets: FleetsOption = None,
    max_jobs: MaxJobsOption = None,
    cycle_interval: CycleIntervalOption = None,
    oracle_time_limits: OracleTimeLimitsOption = None,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    ray_working_dir: RayWorkingDirOption = None,
    out_dir: OutDirOption = None,
    report: ReportOption = None,
    output: OutputOption = None,
) -> None:
    """Run one simulation per profile x load x seed x fleet, in parallel, and compare them.

    Examples: suanli sweep examples/sweeps/gavel.yaml --workers 2 --out results/ --report results/sweep.html

    suanli sweep --trace gavel -p fifo -p default --load 4 --load 5.6 --seed 0 --seed 1 --max-jobs 500
    """
    from suanli.simulation import sweep as sw

    current = state(ctx, output)
    data, base, source = _spec_data(spec_file, kind, trace, trace_options)
    overrides: dict[str, Any] = {
        "profiles": profiles,
        "arrivals": arrivals,
        "loads": loads,
        "seeds": seeds,
        "fleets": [f if f == sw.DEFAULT_FLEET else str(Path(f).resolve()) for f in fleets] if fleets else None,
        "max_jobs": max_jobs,
        "cycle_interval_s": cycle_interval,
        "oracle_time_limits": oracle_time_limits,
    }
    data |= {k: v for k, v in overrides.items() if v is not None}
    spec = sw.spec_from_dict(data, source, base=base)
    sw.check(spec)
    if ray_address is not None:
        sw.check_ray_address(ray_address)
    cells = sw.expand(spec)
    where = (
        f"Ray at {ray_address}" if ray_address else f"{min(workers or sw.default_workers(), len(cells))} process(es)"
    )
    started = time.perf_counter()
    rows = _run_cells(spec.name, cells, where, workers, ray_address, ray_working_dir, quiet=current.json)
    elapsed = time.perf_counter() - started
    combined = sw.aggregate(rows)
    written = sw.write_results(out_dir, rows, combined) if out_dir is not None else []
    if report is not None:
        from suanli.simulation.sweep.report import write_sweep_report

        written.append(write_sweep_report(report, spec.name, spec.load_kind, combined))
    if current.json:
        print_json(sw.jsonable({"name": spec.name, "cells": len(cells), "rows": rows, "summary": combined}))
        return
    wide = Console().width >= WIDE  # else the min-max lines would fold every number
    out.print(summary_table(spec.name, spec.load_kind, combined, ranges=wide))
    note(f"{len(cells)} simulations in {elapsed:.1f} s on {where}")
    never = sum(int(r.get("never_ran") or 0) for r in rows)
    if never and spec.arrivals != "fill":  # (filling a fleet, jobs that find no room are the point)
        note(f"{never} job(s) never ran over all cells (column 'never ran'); see rows.csv")
    if written:
        note("wrote " + ", ".join(str(p) for p in written))


def _spec_data(
    spec_file: Path | None, kind: str | None, trace: str | None, trace_options: list[str] | None
) -> tuple[dict[str, Any], Path | None, str]:
    """The spec's raw mapping (from the file, if given, with --kind, --trace and --trace-option put
    in), the folder its relative paths are from, and where it came from (for error messages)."""
    from suanli.simulation import sweep as sw

    data: dict[str, Any] = {}
    base: Path | None = None
    source = "the options"
    if spec_file is not None:
        data = sw.read_spec_file(spec_file)
        base = spec_file.resolve().parent
        source = str(spec_file)
    elif trace is None or (kind is None and not packaged.is_name(trace)):
        raise sw.SweepError("give a sweep file SPEC.yaml, or --trace NAME, or --kind and --trace FILE", field="trace")
    given_trace = data.get("trace") if isinstance(data.get("trace"), dict) else {}
    trace_part: dict[str, Any] = dict(given_trace or {})
    if trace is not None:  # replaces the file's trace (but for its options)
        for key in ("name", "kind", "path"):
            trace_part.pop(key, None)
        if packaged.is_name(trace):
            trace_part["name"] = trace
        else:
            trace_part["path"] = str(Path(trace).resolve())  # the options' paths are from here, not the file's
    if kind is not None:
        trace_part["kind"] = kind
    if trace_options:
        trace_part["options"] = _loader_options(trace_part.get("options"), trace_options)
    if trace_part or "trace" in data:
        data["trace"] = trace_part if trace_part else data["trace"]
    return data, base, source


def _loader_options(given: Any, items: list[str]) -> dict[str, Any]:
    """The trace's loader options with each --trace-option KEY=VALUE put in."""
    from suanli.simulation.sweep import SweepError

    options = dict(given or {})
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SweepError(f"--trace-option takes KEY=VALUE; got {item!r}", field="--trace-option")
        options[key.strip()] = _scalar(value.strip())
    return options


def _run_cells(
    name: str,
    cells: list[Cell],
    where: str,
    workers: int | None,
    ray_address: str | None,
    ray_working_dir: Path | None,
    *,
    quiet: bool,
) -> list[dict[str, Any]]:
    """The cells' rows, from worker processes or Ray tasks, with a progress bar on stderr."""
    from suanli.simulation import sweep as sw

    with progress_bar(f"sweep {escape(name)}: {len(cells)} simulations on {escape(where)}", quiet=quiet) as bar:
        task = bar.add_task("cells", total=len(cells))

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        if ray_address is not None:
            return sw.run_on_ray(cells, ray_address, advance, working_dir=ray_working_dir)
        return sw.run_sweep(cells, workers, advance)


def summary_table(name: str, load_kind: str, combined: list[dict[str, Any]], ranges: bool = True) -> Table:
    """Mean over seeds per profile x load x fleet, with min-max below where there are several seeds
    (``ranges``). The fleet and seed count get columns only when they vary."""
    fleets = {row["fleet_file"] for row in combined}
    seeds = {row["seeds"] for row in combined}
    title = f"sweep {escape(name)}: mean"
    if seeds != {1}:
        title += f" over {next(iter(seeds))} seeds" if len(seeds) == 1 else " over seeds"
        title += " (min-max below)" if ranges else " (min-max: a wider terminal, or --out)"
    if len(fleets) == 1 and combined:
        title += f", fleet {escape(_fleet_label(combined[0]))}"
    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("profile", no_wrap=True)
    table.add_column(LOAD_HEADERS.get(load_kind, "speed"), justify="right", no_wrap=True)
    if len(fleets) > 1:
        table.add_column("fleet", overflow="fold")
    if len(seeds) > 1:
        table.add_column("seeds", justify="right")
    shown = FILL_SHOWN if load_kind == "fill_to" else SHOWN
    for _, header in shown:
        table.add_column(header, justify="right", overflow="fold")
    for row in combined:
        cells = [escape(str(row["profile"])), f"{row['load']:g}"]
        if len(fleets) > 1:
            cells.append(escape(_fleet_label(row)))
        if len(seeds) > 1:
            cells.append(str(row["seeds"]))
        for metric, _ in shown:
            scale = 100.0 if metric in PERCENT else 1.0
            values = [row.get(f"{metric}_{part}") for part in ("mean", "min", "max")]
            mean, low, high = (v * scale if isinstance(v, int | float) else v for v in values)
            cells.append(_span(mean, low, high) if ranges else _span(mean, None, None))
        table.add_row(*cells)
    return table


def _fleet_label(row: dict[str, Any]) -> str:
    """The fleet's name; with its file's name when it came from a file."""
    if row["fleet_file"] == "default":
        return str(row["fleet"])
    return f"{row['fleet']} ({Path(row['fleet_file']).name})"


def _span(mean: Any, low: Any, high: Any) -> str:
    if not isinstance(mean, int | float) or not math.isfinite(mean):
        return "-"
    text = _number(mean)
    if isinstance(low, int | float) and isinstance(high, int | float) and low != high:
        text += f"\n[dim]{_number(low)}-{_number(high)}[/dim]"
    return text


def _number(value: float) -> str:
    """Short: 3 significant digits, no exponent below a million."""
    if abs(value) >= 1000:
        return f"{value:.0f}" if abs(value) < 1e6 else f"{value:.3g}"
    return f"{value:.3g}"


def _scalar(text: str) -> Any:
    """A loader option's value as YAML reads it (true, 3, 0.5), else the text itself."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool) else text
