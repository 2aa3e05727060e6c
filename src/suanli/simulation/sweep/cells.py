"""The cells of a sweep, one simulation each, and what a worker does with one: load its trace and
fleet (cached per process), run the simulation and return a small row of results."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

from suanli.domain.errors import SuanliError
from suanli.simulation.sweep.spec import DEFAULT_FLEET, GENERATED, SweepError, SweepSpec, load_kind
from suanli.simulation.workload import Workload, filling_arrivals

Row = dict[str, Any]
CELL_FIELDS = ("cell", "profile", "load", "load_kind", "seed", "fleet_file")  # a row's first fields: Cell.params


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    """One simulation of a sweep: everything a worker needs, small and picklable.

    ``trace_path`` and ``fleet_file`` are sent as paths: workers read them from their own
    filesystem (the same one on one machine; a shared one, or a Ray working_dir, on a cluster).
    A trace that ships with Suanli (``trace_name``) is read from the worker's own installation.
    """

    index: int
    profile: str
    load: float
    seed: int | None
    fleet_file: str  # a fleet YAML path, or DEFAULT_FLEET
    kind: str
    trace_path: str
    options: tuple[tuple[str, Any], ...] = ()
    max_jobs: int | None = None
    cycle_interval_s: float = 0.0
    oracle_time_limits: bool = False
    restore_s: float | None = None
    arrivals: str = "trace"
    trace_name: str | None = None

    @property
    def generated(self) -> bool:
        return self.kind in GENERATED

    @property
    def trace_file(self) -> str:
        """The trace's file where the cell runs."""
        if self.trace_name is None:
            return self.trace_path
        from suanli.simulation.packaged import named_trace

        return str(named_trace(self.trace_name).path)

    def params(self) -> Row:
        return {
            "cell": self.index,
            "profile": self.profile,
            "load": self.load,
            "load_kind": load_kind(self.generated, self.arrivals),
            "seed": self.seed,
            "fleet_file": self.fleet_file,
        }


def expand(spec: SweepSpec) -> list[Cell]:
    """The cells of ``spec``: one per fleet x load x seed x profile (profiles vary fastest, so
    neighbouring cells share a workload and a fleet, which each worker caches)."""
    options = tuple(sorted(spec.trace.options.items()))
    cells: list[Cell] = []
    for fleet in spec.fleets:
        for load in spec.effective_loads():
            for seed in spec.effective_seeds():
                for profile in spec.profiles:
                    cells.append(
                        Cell(
                            index=len(cells),
                            profile=profile,
                            load=load,
                            seed=seed,
                            fleet_file=fleet,
                            kind=spec.trace.kind,
                            trace_path=str(spec.trace.path),
                            options=options,
                            max_jobs=spec.max_jobs,
                            cycle_interval_s=spec.cycle_interval_s,
                            oracle_time_limits=spec.oracle_time_limits,
                            restore_s=spec.restore_s,
                            arrivals=spec.arrivals,
                            trace_name=spec.trace.name,
                        )
                    )
    return cells


def scale_time(workload: Workload, factor: float) -> Workload:
    """The same jobs arriving ``factor`` times as fast: every submit time divided by ``factor``."""
    if not (math.isfinite(factor) and factor > 0):
        raise SweepError(f"a time-scale factor must be a positive number, not {factor!r}", field="loads")
    if factor == 1.0:
        return workload
    jobs = tuple(dataclasses.replace(job, submit_s=job.submit_s / factor) for job in workload.jobs)
    return dataclasses.replace(workload, jobs=jobs, name=f"{workload.name}:x{factor:g}")


@functools.lru_cache(maxsize=4)
def _base_workload(
    kind: str, path: str, options: tuple[tuple[str, Any], ...], max_jobs: int | None, load: float, seed: int | None
) -> Workload:
    """The workload before any time scaling; load and seed matter only for a generator."""
    from suanli.simulation.traces import load_trace

    given = dict(options)
    if kind in GENERATED:
        given |= {"jobs_per_hour": load, "seed": seed or 0}
        if max_jobs is not None:
            given["num_jobs"] = max_jobs
    workload = load_trace(kind, path, **given)
    if max_jobs is not None and len(workload.jobs) > max_jobs:
        workload = dataclasses.replace(workload, jobs=workload.jobs[:max_jobs])
    return workload


def workload_of(cell: Cell) -> Workload:
    """The cell's workload: generated at its load and seed, the trace with its time scale, or
    jobs drawn from the trace (with its seed) until they fill the fleet to its load."""
    if cell.generated:
        return _base_workload(cell.kind, cell.trace_file, cell.options, cell.max_jobs, cell.load, cell.seed)
    base = _base_workload(cell.kind, cell.trace_file, cell.options, cell.max_jobs, 1.0, None)
    if cell.arrivals == "fill":
        return filling_arrivals(base, fleet_of(cell).gpus(), cell.load, cell.seed or 0)
    return scale_time(base, cell.load)


@functools.lru_cache(maxsize=8)
def _fleet(
    fleet_file: str, kind: str, trace_path: str, options: tuple[tuple[str, Any], ...], max_jobs: int | None
) -> Any:
    from suanli.simulation.fleet import load_fleet, trace_fleet

    if fleet_file != DEFAULT_FLEET:
        return load_fleet(fleet_file)
    # A Philly fleet is sized for the VCs the (first max_jobs) jobs use.
    workload = _base_workload(kind, trace_path, options, max_jobs, 1.0, None) if kind == "philly" else None
    own = trace_fleet(kind, trace_path, workload)
    if own is not None:
        return own
    raise SweepError(f"a {kind} trace brings no fleet of its own; list fleet files", field="fleets")


def fleet_of(cell: Cell) -> Any:
    return _fleet(cell.fleet_file, cell.kind, cell.trace_file, cell.options, cell.max_jobs)


def simulate_cell(cell: Cell) -> Row:
    """Runs the cell's simulation here; returns its parameters and its summary."""
    from suanli.simulation.engine import RequestPolicy, Simulation
    from suanli.simulation.metrics import summarize

    policy: dict[str, Any] = {"oracle_time_limits": cell.oracle_time_limits}
    if cell.restore_s is not None:
        policy["restore_s"] = cell.restore_s
    simulation = Simulation(
        workload_of(cell),
        fleet_of(cell),
        cell.profile,
        cycle_interval_s=cell.cycle_interval_s,
        requests=RequestPolicy(**policy),
    )
    summary = summarize(simulation.run()).as_dict()
    # the cell's parameters first; the summary's own profile is the same name
    return cell.params() | {k: v for k, v in summary.items() if k != "profile"}


def run_cell(cell: Cell) -> tuple[str, Any]:
    """The worker's entry (process pool and Ray alike): ``("ok", row)`` or ``("error", (message,
    field))`` for a bad trace or fleet; a plain tuple crosses process and Ray boundaries intact."""
    try:
        return "ok", simulate_cell(cell)
    except SuanliError as error:
        return "error", (error.message, error.field)


def unwrap(cell: Cell, outcome: tuple[str, Any]) -> Row:
    """The row of ``run_cell``'s outcome; its error as a :class:`SweepError` naming the cell."""
    status, value = outcome
    if status == "ok":
        row: Row = value
        return row
    message, field = value
    where = ", ".join(f"{k}={v}" for k, v in cell.params().items() if v is not None)
    raise SweepError(f"cell {cell.index} ({where}): {message}", field=field)
