"""`suanli simulate`: replay a trace through the scheduler on a fleet, with a virtual clock."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from suanli.adapters.cli.output import OutputOption, note, out, print_json, state
from suanli.domain.errors import InvalidSpec

KINDS = ("philly", "openb", "pollux", "gavel", "generic")


def simulate(
    ctx: typer.Context,
    trace: Annotated[
        Path,
        typer.Argument(help="the trace file (for gavel: the throughput matrix simulation_throughputs.json)"),
    ],
    kind: Annotated[str, typer.Option("--kind", "-k", help=f"trace format: {', '.join(KINDS)}")] = "philly",
    fleet: Annotated[
        Path | None,
        typer.Option(
            "--fleet",
            help="fleet YAML (docs/simulation.md); default: the trace's own fleet (philly_vc.csv next to a Philly "
            "trace, the openb node list next to an openb pod list, Gavel's 36 V100 + 36 P100 + 36 K80)",
        ),
    ] = None,
    profile: Annotated[str, typer.Option(help="scheduler profile: default, spread, green, fifo")] = "default",
    max_jobs: Annotated[int | None, typer.Option(min=1, help="replay only the first N jobs")] = None,
    cycle_interval: Annotated[
        float, typer.Option(min=0, help="virtual seconds between cycles (0: a cycle after every event)")
    ] = 0.0,
    oracle_time_limits: Annotated[
        bool, typer.Option(help="tell the scheduler each job's true run time (backfill uses it)")
    ] = False,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="generic: FIELD=COLUMN, e.g. --map submit=submit_time --map duration=runtime --map gpus=num_gpu "
            "(fields: submit, duration or start+end, gpus, gpu_milli, cpus, nodes, user, group, id; "
            "also time_unit=s|ms|min|h)",
        ),
    ] = None,
    jobs_per_hour: Annotated[float, typer.Option(min=0, help="gavel: arrival rate")] = 4.0,
    seed: Annotated[int, typer.Option(help="gavel: random seed")] = 0,
    skip_bad: Annotated[bool, typer.Option(help="skip malformed rows (and count them) instead of stopping")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="write summary.json and jobs.csv (one row per job) here")
    ] = None,
    output: OutputOption = None,
) -> None:
    """Replay a trace through the same scheduler the server runs, on a simulated fleet.

    Examples: suanli simulate data/philly/philly.csv --profile fifo

    suanli simulate simulation_throughputs.json --kind gavel --jobs-per-hour 5.6 --out results/
    """
    from dataclasses import replace

    from suanli.simulation.engine import RequestPolicy, Simulation
    from suanli.simulation.metrics import summarize
    from suanli.simulation.traces import load_trace

    current = state(ctx, output)
    if kind not in KINDS:
        raise InvalidSpec(f"unknown trace kind {kind!r}; use one of {', '.join(KINDS)}", field="--kind")
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
    workload = load_trace(kind, trace, **options)
    if max_jobs is not None:
        workload = replace(workload, jobs=workload.jobs[:max_jobs])
    if workload.skipped:
        note(f"skipped {workload.skipped} malformed row(s), e.g. {workload.skip_reasons[0]}")
    chosen = _fleet(kind, trace, fleet, workload)
    requests = RequestPolicy(oracle_time_limits=oracle_time_limits)
    simulation = Simulation(workload, chosen, profile, cycle_interval_s=cycle_interval, requests=requests)
    with Progress(
        TextColumn(f"simulating {workload.name} on {chosen.name} ({profile})"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=current.json,
    ) as bar:
        task = bar.add_task("jobs", total=len(workload.jobs))
        result = simulation.run(lambda done, total: bar.update(task, completed=done))
    summary = summarize(result)
    if out_dir is not None:
        _write(out_dir, summary.as_dict(), result)
    if current.json:
        print_json(_finite(summary.as_dict()))
        return
    table = Table(title=f"{summary.workload} on {summary.fleet}, profile {summary.profile}", show_header=False)
    for name, value in summary.as_dict().items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    out.print(table)
    if summary.never_ran:
        never = result.never_ran[0]
        note(f"{summary.never_ran} job(s) never ran; e.g. {never.job.id}: {never.why_not}")
    if out_dir is not None:
        note(f"wrote {out_dir / 'summary.json'} and {out_dir / 'jobs.csv'}")


def _fleet(kind: str, trace: Path, given: Path | None, workload: Any) -> Any:
    from suanli.simulation.fleet import gavel_fleet, load_fleet, openb_fleet, philly_fleet

    if given is not None:
        return load_fleet(given)
    if kind == "philly":
        return philly_fleet(trace.parent / "philly_vc.csv", workload)
    if kind == "openb":
        return openb_fleet(trace.parent / "openb_node_list_gpu_node.csv")
    if kind == "gavel":
        return gavel_fleet()
    raise InvalidSpec(f"a {kind} trace brings no fleet of its own; give one with --fleet FILE.yaml", field="--fleet")


def _write(folder: Path, summary: dict[str, Any], result: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(_finite(summary), indent=2) + "\n")
    with (folder / "jobs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "group", "gpus", "submit_s", "start_s", "end_s", "center", "pool", "accelerator"])
        for r in result.records:
            writer.writerow(
                [r.job.id, r.job.group, r.job.gpus, r.submit_s, r.start_s, r.end_s, r.center, r.pool, r.accelerator]
            )


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: a metric with no jobs to measure is null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
