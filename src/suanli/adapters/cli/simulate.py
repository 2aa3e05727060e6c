"""`suanli simulate`: replay a trace through the scheduler on a fleet, with a virtual clock."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from suanli.adapters.cli.output import OutputOption, note, out, print_json, progress_bar, state
from suanli.domain.errors import InvalidSpec
from suanli.simulation import packaged

if TYPE_CHECKING:
    from suanli.simulation.report import Run
    from suanli.simulation.workload import Workload

KINDS = ("philly", "openb", "pollux", "gavel", "generic")
TRACE_HELP = (
    "a trace file (gavel: its throughput matrix simulation_throughputs.json), or the name of a trace that "
    f"ships with Suanli: {', '.join(packaged.TRACES)} (docs/simulation.md; ./NAME for a file called NAME)"
)


TraceArgument = Annotated[str, typer.Argument(metavar="TRACE", help=TRACE_HELP)]
KindOption = Annotated[
    str | None,
    typer.Option("--kind", "-k", help=f"trace format: {', '.join(KINDS)} (default: a named trace's own, else philly)"),
]
FleetOption = Annotated[
    Path | None,
    typer.Option(
        "--fleet",
        help="fleet YAML (docs/simulation.md); default: the trace's own fleet (philly_vc.csv next to a Philly "
        "trace, the openb node list next to an openb pod list, Gavel's 36 V100 + 36 P100 + 36 K80, "
        "Pollux's 16 nodes x 4 T4)",
    ),
]
ProfileOption = Annotated[
    str,
    typer.Option(
        help="scheduler profile: default, spread, green, fifo, sjf, srtf, qssf, las, gavel, gavel-agnostic, "
        "suanli-jct, suanli-jct-attained, fgd, best-fit, random-fit (docs/simulation.md)"
    ),
]
MaxJobsOption = Annotated[int | None, typer.Option(min=1, help="replay only the first N jobs")]
CycleIntervalOption = Annotated[
    float, typer.Option(min=0, help="virtual seconds between cycles (0: a cycle after every event)")
]
PreemptionCostOption = Annotated[
    float,
    typer.Option(
        min=0, help="seconds a preempted job needs to resume (checkpoint and restore), for preemptive profiles"
    ),
]
OracleOption = Annotated[bool, typer.Option(help="tell the scheduler each job's true run time (backfill uses it)")]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="generic: FIELD=COLUMN, e.g. --map submit=submit_time --map duration=runtime --map gpus=num_gpu "
        "(fields: submit, duration or start+end, gpus, gpu_milli, cpus, nodes, user, group, id; "
        "also time_unit=s|ms|min|h)",
    ),
]
JobsPerHourOption = Annotated[float, typer.Option(min=0, help="gavel: arrival rate")]
SeedOption = Annotated[int, typer.Option(help="random seed (gavel's generator, --fill-to's draws)")]
SkipBadOption = Annotated[bool, typer.Option(help="skip malformed rows (and count them) instead of stopping")]
FillToOption = Annotated[
    float | None,
    typer.Option(
        min=0.01,
        help="measure packing as FGD does: jobs drawn at random from the trace (with --seed) arrive one a "
        "second and never leave, until they ask for this many times the fleet's GPUs (e.g. 1.3); then "
        "compare allocated_at_full_demand across --profile fgd, best-fit, random-fit",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="write summary.json and jobs.csv (one row per job) here; with --what-if, one subfolder per "
        "fleet and comparison.json",
    ),
]
ReportOption = Annotated[
    Path | None,
    typer.Option("--report", help="write an HTML report with plots (one self-contained file) here"),
]
WhatIfOption = Annotated[
    Path | None,
    typer.Option(
        "--what-if",
        help="capacity planning: also run the workload on this fleet YAML and compare it with --fleet "
        "(or with the trace's own fleet)",
    ),
]


def simulate(
    ctx: typer.Context,
    trace: TraceArgument,
    kind: KindOption = None,
    fleet: FleetOption = None,
    profile: ProfileOption = "default",
    max_jobs: MaxJobsOption = None,
    cycle_interval: CycleIntervalOption = 0.0,
    preemption_cost: PreemptionCostOption = 30.0,
    oracle_time_limits: OracleOption = False,
    columns: MapOption = None,
    jobs_per_hour: JobsPerHourOption = 4.0,
    seed: SeedOption = 0,
    skip_bad: SkipBadOption = False,
    fill_to: FillToOption = None,
    out_dir: OutOption = None,
    report: ReportOption = None,
    what_if: WhatIfOption = None,
    output: OutputOption = None,
) -> None:
    """Replay a trace through the same scheduler the server runs, on a simulated fleet.

    Examples: suanli simulate philly --profile fifo

    suanli simulate gavel --jobs-per-hour 5.6 --out results/

    suanli simulate examples/traces/small.csv --kind generic --map submit=submit_time --map duration=runtime --map gpus=num_gpu --fleet examples/fleets/base.yaml --what-if examples/fleets/more-910b.yaml --report r.html
    """  # noqa: E501
    from suanli.simulation.engine import RequestPolicy
    from suanli.simulation.fleet import load_fleet
    from suanli.simulation.report import Run
    from suanli.simulation.workload import filling_arrivals

    current = state(ctx, output)
    path, kind = _trace(trace, kind)
    if kind not in KINDS:
        raise InvalidSpec(f"unknown trace kind {kind!r}; use one of {', '.join(KINDS)}", field="--kind")
    options = _loader_options(kind, columns, skip_bad, jobs_per_hour, seed, max_jobs)
    workload = _workload(kind, path, options, max_jobs)
    chosen = _fleet(kind, path, fleet, workload)
    if fill_to is not None:
        workload = filling_arrivals(workload, chosen.gpus(), fill_to, seed)
    other = load_fleet(what_if) if what_if is not None else None  # a bad file fails before any run
    requests = RequestPolicy(oracle_time_limits=oracle_time_limits, restore_s=preemption_cost)
    base = _run(workload, chosen, profile, cycle_interval, requests, quiet=current.json)
    if other is None:
        _single(base, out_dir, report, json_output=current.json)
        return
    what = _run(workload, other, profile, cycle_interval, requests, quiet=current.json)
    runs = [
        Run(_label("base", chosen.name, other.name), base.result, base.summary),
        Run(_label("what-if", other.name, chosen.name), what.result, what.summary),
    ]
    _what_if(runs, chosen, other, out_dir, report, json_output=current.json)


def _loader_options(
    kind: str, columns: list[str] | None, skip_bad: bool, jobs_per_hour: float, seed: int, max_jobs: int | None
) -> dict[str, Any]:
    """The trace loader's options: --skip-bad, generic's --map FIELD=COLUMN, Gavel's generator's."""
    options: dict[str, Any] = {"skip_bad": skip_bad}
    for item in columns or ():
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InvalidSpec(f"--map takes FIELD=COLUMN, e.g. submit=submit_time; got {item!r}", field="--map")
        options[field.strip()] = column.strip()
    if kind == "gavel":
        options |= {"jobs_per_hour": jobs_per_hour, "seed": seed}
        if max_jobs is not None:
            options["num_jobs"] = max_jobs
    return options


def _workload(kind: str, path: Path, options: dict[str, Any], max_jobs: int | None) -> Workload:
    """The trace's jobs (the first ``max_jobs``), saying how many malformed rows were skipped."""
    from dataclasses import replace

    from suanli.simulation.traces import load_trace

    workload = load_trace(kind, path, **options)
    if max_jobs is not None:
        workload = replace(workload, jobs=workload.jobs[:max_jobs])
    if workload.skipped:
        note(f"skipped {workload.skipped} malformed row(s), e.g. {workload.skip_reasons[0]}")
    return workload


def _trace(given: str, kind: str | None) -> tuple[Path, str]:
    """The file and kind of a trace that ships with Suanli (``philly``), or the file given with
    ``--kind`` (philly by default)."""
    if not packaged.is_name(given):
        return Path(given), kind or "philly"
    named = packaged.named_trace(given, field="TRACE")
    if kind is not None and kind != named.kind:
        raise InvalidSpec(f"the trace {given} is read as {named.kind}; leave out --kind {kind}", field="--kind")
    return named.path, named.kind


def _run(workload: Any, fleet: Any, profile: str, cycle_interval: float, requests: Any, *, quiet: bool) -> Run:
    from suanli.simulation.engine import Simulation
    from suanli.simulation.metrics import summarize
    from suanli.simulation.report import Run

    simulation = Simulation(workload, fleet, profile, cycle_interval_s=cycle_interval, requests=requests)
    with progress_bar(f"simulating {workload.name} on {fleet.name} ({profile})", quiet=quiet) as bar:
        task = bar.add_task("jobs", total=len(workload.jobs))
        result = simulation.run(lambda done, total: bar.update(task, completed=done))
    return Run(fleet.name, result, summarize(result))


def _label(role: str, name: str, other: str) -> str:
    return f"{role} ({name})" if name != other else role


def _single(run: Run, out_dir: Path | None, report: Path | None, *, json_output: bool) -> None:
    from suanli.simulation.formatting import finite
    from suanli.simulation.outputs import write_outputs
    from suanli.simulation.report import write_report

    summary, result = run.summary, run.result
    if out_dir is not None:
        write_outputs(out_dir, [run])
    if report is not None:
        write_report(report, [run])
    if json_output:
        print_json(finite(summary.as_dict()))
    else:
        table = Table(title=f"{summary.workload} on {summary.fleet}, profile {summary.profile}", show_header=False)
        for name, value in summary.as_dict().items():
            if isinstance(value, float):  # NaN: nothing to measure (no job ended, say)
                table.add_row(name, f"{value:.4g}" if math.isfinite(value) else "-")
            else:
                table.add_row(name, str(value))
        out.print(table)
        if summary.never_ran:
            never = result.never_ran[0]
            note(f"{summary.never_ran} job(s) never ran; e.g. {never.job.id}: {never.why_not}")
    if out_dir is not None and not json_output:
        note(f"wrote {out_dir / 'summary.json'} and {out_dir / 'jobs.csv'}")
    if report is not None:
        note(f"wrote the report to {report}")


def _what_if(
    runs: list[Run], base: Any, other: Any, out_dir: Path | None, report: Path | None, *, json_output: bool
) -> None:
    import json

    from suanli.simulation.formatting import format_change, format_value
    from suanli.simulation.outputs import slug, write_outputs
    from suanli.simulation.report import write_report
    from suanli.simulation.whatif import compare

    comparison = compare(base, other, runs[0].summary, runs[1].summary)
    if out_dir is not None:
        write_outputs(out_dir, runs)
        (out_dir / "comparison.json").write_text(json.dumps(comparison.as_dict(), indent=2) + "\n")
    if report is not None:
        changes = [c.describe() for c in comparison.capacity] or ["no change in accelerators"]
        write_report(report, runs, headline=comparison.verdict, notes=[f"capacity: {'; '.join(changes)}"])
    if json_output:
        print_json(comparison.as_dict())
    else:
        first = runs[0].summary
        title = f"{first.workload}, profile {first.profile}: base {base.name} vs what-if {other.name}"
        table = Table(title=title)
        table.add_column("metric")
        for heading in ("base", "what-if"):
            table.add_column(heading, justify="right")
        table.add_column("change", justify="right")
        for row in comparison.rows:
            table.add_row(
                row.label,
                format_value(row.base, row.unit),
                format_value(row.what_if, row.unit),
                format_change(row.base, row.what_if, row.unit),
            )
        out.print(table)
        out.print(comparison.verdict, markup=False)
        for run in runs:
            if run.summary.never_ran:
                never = run.result.never_ran[0]
                note(f"{run.label}: {run.summary.never_ran} job(s) never ran; e.g. {never.job.id}: {never.why_not}")
    if out_dir is not None and not json_output:
        folders = ", ".join(str(out_dir / slug(run.label)) for run in runs)
        note(f"wrote {out_dir / 'comparison.json'} and summary.json and jobs.csv in {folders}")
    if report is not None:
        note(f"wrote the report to {report}")


def _fleet(kind: str, trace: Path, given: Path | None, workload: Any) -> Any:
    from suanli.simulation.fleet import load_fleet, trace_fleet

    if given is not None:
        return load_fleet(given)
    own = trace_fleet(kind, trace, workload)
    if own is not None:
        return own
    raise InvalidSpec(f"a {kind} trace brings no fleet of its own; give one with --fleet FILE.yaml", field="--fleet")
