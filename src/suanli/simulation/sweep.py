"""Sweeps: many simulations (profiles x loads x seeds x fleets) in parallel, combined into one comparison.

A :class:`SweepSpec` (YAML file or CLI options) expands into :class:`Cell` s, one simulation
each. Cells run in worker processes (:func:`run_sweep`, a ``ProcessPoolExecutor``) or as Ray tasks
on a cluster (:func:`run_on_ray`); either way each cell is :func:`run_cell`, which loads its trace
and fleet (cached per process), runs :class:`~suanli.simulation.engine.Simulation` and returns a
small row: the cell's parameters and :meth:`Summary.as_dict`. Rows come back in cell order,
whatever the order they finish in, so the same spec gives the same rows (but for the wall-clock
fields :data:`TIMING_FIELDS`).

Loads: for the Gavel generator a load is its arrival rate (jobs per hour); for a real trace it is a
time-scale factor: submit times are divided by it (2.0 = the same jobs arriving twice as fast).

:func:`aggregate` combines rows over seeds: mean, min and max of each metric per
profile x load x fleet. See docs/sweeps.md.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from suanli.domain.errors import InvalidSpec, SuanliError, invalid
from suanli.simulation.workload import Workload, filling_arrivals

GENERATED = frozenset({"gavel"})  # trace kinds whose load is an arrival rate (and which take a seed)
KINDS = ("philly", "openb", "pollux", "gavel", "generic")
DEFAULT_FLEET = "default"  # a fleet entry meaning the trace's own fleet
DEFAULT_JOBS_PER_HOUR = 4.0
DEFAULT_FILL = 1.3  # arrivals: fill's default load, as FGD's measure
TIMING_FIELDS = ("decision_s", "wall_s")  # measured, not simulated: they differ run to run
CELL_FIELDS = ("cell", "profile", "load", "load_kind", "seed", "fleet_file")
GROUP_FIELDS = ("profile", "load", "load_kind", "fleet_file")
# Summary fields that are labels, not metrics (the cell's own fields are never aggregated).
LABEL_FIELDS = ("workload", "fleet")

Row = dict[str, Any]
Progress = Callable[[int, int], None]  # (cells done, cells in all)


class SweepError(InvalidSpec):
    title = "Invalid sweep"


# -- the spec ---------------------------------------------------------------------------------


class TraceSource(BaseModel):
    """Which trace: one that ships with Suanli by ``name`` (``gavel``; ``packaged.TRACES``), or
    its kind and file (Gavel: the throughput matrix); and its loader's options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    kind: str
    path: Path
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        """A name gives the kind and the file."""
        if not isinstance(data, Mapping) or data.get("name") is None:
            return data
        from suanli.simulation.packaged import UnknownTrace, named_trace

        name = str(data["name"])
        try:
            named = named_trace(name)
        except UnknownTrace as error:
            raise ValueError(error.message) from None
        if data.get("path") is not None:
            raise ValueError(f"give the trace's name or its path, not both (name: {name})")
        if data.get("kind") not in (None, named.kind):
            raise ValueError(f"the trace {name} is read as {named.kind}; leave out kind: {data['kind']}")
        return {**data, "name": name, "kind": named.kind, "path": named.path}

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown trace kind {kind!r}; use one of {', '.join(KINDS)}")
        return kind

    @field_validator("options")
    @classmethod
    def _plain_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        for key, value in options.items():
            if not isinstance(value, str | int | float | bool) or value is None:
                raise ValueError(f"option {key!r} must be a string, number or boolean")
        reserved = sorted({"jobs_per_hour", "seed", "num_jobs"} & options.keys())
        if reserved:
            raise ValueError(f"{', '.join(reserved)}: set these with 'loads', 'seeds' and 'max_jobs' instead")
        return options


class SweepSpec(BaseModel):
    """What to sweep. ``loads``: jobs per hour for a generated trace (default 4.0), time-scale
    factors for a real one (default 1.0). ``seeds``: the generator's seeds (generated traces only;
    default 0). ``fleets``: fleet YAML files, or ``default`` for the trace's own fleet.

    ``arrivals: fill`` measures packing as FGD does (``workload.filling_arrivals``): jobs drawn
    at random from a recorded trace arrive one a second and never leave; ``loads`` are then how
    far to fill the fleet (default 1.3: until they ask for 1.3x its GPUs), and ``seeds`` the draws."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="sweep", min_length=1, max_length=200)
    trace: TraceSource
    profiles: tuple[str, ...] = Field(default=("default",), min_length=1)
    arrivals: Literal["trace", "fill"] = "trace"
    loads: tuple[float, ...] = ()
    seeds: tuple[int, ...] = ()
    fleets: tuple[str, ...] = (DEFAULT_FLEET,)
    max_jobs: int | None = Field(default=None, ge=1)
    cycle_interval_s: float = Field(default=0.0, ge=0)
    oracle_time_limits: bool = False
    restore_s: float | None = Field(default=None, ge=0)  # a preemption's cost; None: the simulator's default

    @field_validator("profiles", "fleets")
    @classmethod
    def _distinct_names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if any(not v.strip() for v in values):
            raise ValueError("names must not be empty")
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return values

    @field_validator("loads")
    @classmethod
    def _positive_loads(cls, loads: tuple[float, ...]) -> tuple[float, ...]:
        for load in loads:
            if not (math.isfinite(load) and load > 0):
                raise ValueError(f"a load must be a positive number, not {load!r}")
        if len(set(loads)) != len(loads):
            raise ValueError("a load is listed more than once")
        return loads

    @field_validator("arrivals")
    @classmethod
    def _fill_draws_from_a_recorded_trace(cls, arrivals: str, info: ValidationInfo) -> str:
        trace = info.data.get("trace")
        if arrivals == "fill" and isinstance(trace, TraceSource) and trace.kind in GENERATED:
            raise ValueError("fill draws from a recorded trace; a generator's load is its arrival rate")
        return arrivals

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        trace = info.data.get("trace")
        drawn = info.data.get("arrivals") == "fill"
        if seeds and seeds != (0,) and isinstance(trace, TraceSource) and trace.kind not in GENERATED and not drawn:
            raise ValueError(
                f"a {trace.kind} trace is replayed as recorded; only a generator (gavel), or arrivals: fill, "
                "takes seeds"
            )
        if len(set(seeds)) != len(seeds):
            raise ValueError("a seed is listed more than once")
        if any(s < 0 for s in seeds):
            raise ValueError("seeds must be >= 0")
        return seeds

    @property
    def generated(self) -> bool:
        return self.trace.kind in GENERATED

    @property
    def load_kind(self) -> str:
        return load_kind(self.generated, self.arrivals)

    def effective_loads(self) -> tuple[float, ...]:
        if self.arrivals == "fill":
            return self.loads or (DEFAULT_FILL,)
        return self.loads or ((DEFAULT_JOBS_PER_HOUR,) if self.generated else (1.0,))

    def effective_seeds(self) -> tuple[int | None, ...]:
        if not self.generated and self.arrivals != "fill":
            return (None,)
        return self.seeds or (0,)


def load_kind(generated: bool, arrivals: str) -> str:
    """What a load means: an arrival rate, how far arrivals fill the fleet, or a time scale."""
    if generated:
        return "jobs_per_hour"
    return "fill_to" if arrivals == "fill" else "time_scale"


def spec_from_dict(data: object, source: str = "the sweep", base: Path | None = None) -> SweepSpec:
    """Validate ``data``; a bad field is a :class:`SweepError` naming it (``trace.kind``, ``loads[1]``).

    Relative paths (the trace's and the fleets') are taken from ``base`` when given.
    """
    if not isinstance(data, Mapping):
        raise SweepError(f"{source}: expected a mapping with 'trace' at the top, got {type(data).__name__}")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as error:
        raise invalid(error, source, SweepError) from None
    if base is not None:
        spec = spec.model_copy(
            update={
                "trace": spec.trace.model_copy(update={"path": _under(base, spec.trace.path)}),
                "fleets": tuple(f if f == DEFAULT_FLEET else str(_under(base, Path(f))) for f in spec.fleets),
            }
        )
    return spec


def read_spec_file(path: Path | str) -> dict[str, Any]:
    """The raw mapping of a sweep YAML file (relative paths in it not yet resolved)."""
    from suanli.simulation.fleet import read_yaml_mapping

    return read_yaml_mapping(path, "sweep file", "trace", SweepError)


def load_spec(path: Path | str) -> SweepSpec:
    """A spec from a YAML file; its relative paths are relative to the file's folder."""
    path = Path(path)
    return spec_from_dict(read_spec_file(path), str(path), base=path.resolve().parent)


def _under(base: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base / path


# -- cells ------------------------------------------------------------------------------------


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


def check(spec: SweepSpec) -> None:
    """What can be checked cheaply before any worker starts: profile names (by the scheduler that
    will run them), fleet files, and that the trace file is there."""
    from suanli.scheduler.cycle import Scheduler
    from suanli.simulation.fleet import load_fleet

    for i, profile in enumerate(spec.profiles):
        try:
            Scheduler(profile)
        except KeyError:
            from suanli.scheduler.registry import PROFILES

            known = ", ".join(sorted(PROFILES))
            raise SweepError(f"unknown scheduler profile {profile!r}; known: {known}", field=f"profiles[{i}]") from None
        except SuanliError as error:
            raise SweepError(f"profile {profile!r}: {error.message}", field=f"profiles[{i}]") from None
    for i, fleet in enumerate(spec.fleets):
        if fleet == DEFAULT_FLEET:
            if spec.trace.kind == "generic":
                raise SweepError("a generic trace brings no fleet of its own; list fleet files", field=f"fleets[{i}]")
            continue
        try:
            load_fleet(fleet)
        except SuanliError as error:
            raise SweepError(error.message, field=f"fleets[{i}]") from None
    if not spec.trace.path.exists():
        raise SweepError(f"no such file: {spec.trace.path}", field="trace.path")


# -- one cell, in a worker --------------------------------------------------------------------


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


def _unwrap(cell: Cell, outcome: tuple[str, Any]) -> Row:
    status, value = outcome
    if status == "ok":
        row: Row = value
        return row
    message, field = value
    where = ", ".join(f"{k}={v}" for k, v in cell.params().items() if v is not None)
    raise SweepError(f"cell {cell.index} ({where}): {message}", field=field)


# -- running them -----------------------------------------------------------------------------


def default_workers() -> int:
    return os.cpu_count() or 1


def run_serial(cells: Sequence[Cell], progress: Progress | None = None) -> list[Row]:
    """Every cell in this process, one after another (the reference for the parallel runs)."""
    rows = []
    for done, cell in enumerate(cells, 1):
        rows.append(_unwrap(cell, run_cell(cell)))
        if progress is not None:
            progress(done, len(cells))
    return rows


def run_sweep(cells: Sequence[Cell], max_workers: int | None = None, progress: Progress | None = None) -> list[Row]:
    """The cells in up to ``max_workers`` processes (default: one per CPU); rows in cell order.

    Workers start from a fork server (not a fork of this process, whose threads, such as a
    progress bar's, could hold locks) and keep their traces and fleets cached between cells.
    """
    workers = min(max_workers or default_workers(), len(cells))
    if workers <= 1:
        return run_serial(cells, progress)
    context = _context()
    rows: list[Row | None] = [None] * len(cells)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_cell, cell): i for i, cell in enumerate(cells)}
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                i = futures[future]
                rows[i] = _unwrap(cells[i], future.result())
                if progress is not None:
                    progress(done, len(cells))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [row for row in rows if row is not None]


# Imported once by the fork server, so that each worker it forks starts with them loaded.
PRELOAD = [
    "suanli.simulation.sweep",
    "suanli.simulation.engine",
    "suanli.simulation.metrics",
    "suanli.simulation.fleet",
    "suanli.simulation.traces",
]


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def check_ray_address(address: str) -> None:
    if address.startswith(("http://", "https://")):
        raise SweepError(
            f"{address} is a dashboard / Jobs API address; give the cluster's GCS address (HOST:6379, "
            "or 'auto' on a cluster node) or a Ray Client address (ray://HOST:10001)",
            field="--ray-address",
        )


def run_on_ray(
    cells: Sequence[Cell],
    address: str,
    progress: Progress | None = None,
    *,
    working_dir: Path | None = None,
    runtime_env: Mapping[str, Any] | None = None,
) -> list[Row]:
    """The same cells as Ray tasks (one CPU each) on the cluster at ``address``; rows in cell order.

    Workers must be able to import ``suanli`` (installed in the cluster's image, or via
    ``runtime_env``, e.g. ``{"pip": ["suanli"]}``) and read the cells' files: by the same paths
    on a shared filesystem, or, with ``working_dir``, from that folder, which Ray uploads (paths
    under it are sent relative to it).
    """
    check_ray_address(address)
    try:
        import ray
    except ImportError:
        raise SweepError(
            "--ray-address needs Ray: pip install 'suanli[ray]' (or 'ray[default]')", field="--ray-address"
        ) from None
    env = dict(runtime_env or {})
    if working_dir is not None:
        root = working_dir.resolve()
        env["working_dir"] = str(root)
        cells = [_relative_to(cell, root) for cell in cells]
    started_here = not ray.is_initialized()
    if started_here:
        _check_reachable(address)
        try:
            ray.init(
                address=address,
                runtime_env=env or None,
                logging_level=logging.WARNING,
                log_to_driver=False,
                configure_logging=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise SweepError(f"cannot connect to Ray at {address}: {error}", field="--ray-address") from None
    try:
        remote = ray.remote(num_cpus=1, max_retries=1)(run_cell)
        refs = [remote.remote(cell) for cell in cells]
        index = {ref: i for i, ref in enumerate(refs)}
        rows: list[Row | None] = [None] * len(cells)
        pending = list(refs)
        done = 0
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    i = index[ref]
                    rows[i] = _unwrap(cells[i], ray.get(ref))
                    done += 1
                    if progress is not None:
                        progress(done, len(cells))
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        return [row for row in rows if row is not None]
    finally:
        if started_here:
            ray.shutdown()


def _probe(host: str, port: int, timeout_s: float = 3.0) -> bool:
    import socket

    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _check_reachable(address: str) -> None:
    """Fails fast (instead of Ray retrying for minutes) when no GCS answers at a HOST:PORT address."""
    if "://" in address or ":" not in address:
        return  # ray://, 'auto', 'local': Ray finds or starts the cluster itself
    host, _, port_text = address.rpartition(":")
    if not port_text.isdigit():
        raise SweepError(f"expected HOST:PORT, got {address!r}", field="--ray-address")
    if not _probe(host, int(port_text)):
        raise SweepError(f"no Ray head answers at {address}", field="--ray-address")
    try:  # Ray swaps a loopback address for this machine's own address before it connects
        from ray._private.services import canonicalize_bootstrap_address

        target = canonicalize_bootstrap_address(address)
    except Exception:  # a private helper: if it moved, let ray.init speak for itself
        return
    if target and target != address:
        host, _, port_text = target.rpartition(":")
        if port_text.isdigit() and not _probe(host, int(port_text)):
            raise SweepError(
                f"Ray would connect to {target} (this machine's address for {address}), where nothing answers: "
                "the head listens on loopback only; set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in the environment, "
                "as scripts/lab/ray-up.sh does for the head",
                field="--ray-address",
            )


def _relative_to(cell: Cell, root: Path) -> Cell:
    def rel(path: str) -> str:
        if path == DEFAULT_FLEET:
            return path
        resolved = Path(path).resolve()
        return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else path

    return dataclasses.replace(cell, trace_path=rel(cell.trace_path), fleet_file=rel(cell.fleet_file))


# -- combining --------------------------------------------------------------------------------


def metric_names(rows: Sequence[Row]) -> list[str]:
    """The numeric summary fields of the rows (not the cell's parameters or labels)."""
    if not rows:
        return []
    skip = {*CELL_FIELDS, *LABEL_FIELDS}
    return [k for k, v in rows[0].items() if k not in skip and isinstance(v, int | float) and not isinstance(v, bool)]


def aggregate(rows: Sequence[Row]) -> list[Row]:
    """Per profile x load x fleet (in the order the rows first give them): ``seeds`` (how many
    rows), and for every metric its mean, min and max over those rows. Rows whose value is not a
    finite number (NaN: nothing finished) are left out of that metric; none left gives NaN."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in GROUP_FIELDS), []).append(row)
    metrics = metric_names(rows)
    combined: list[Row] = []
    for key, members in groups.items():
        out: Row = dict(zip(GROUP_FIELDS, key, strict=True))
        out["fleet"] = members[0].get("fleet", "")
        out["workload"] = members[0].get("workload", "")
        out["seeds"] = len(members)
        for metric in metrics:
            values = [float(r[metric]) for r in members if is_number(r[metric])]
            out[f"{metric}_mean"] = sum(values) / len(values) if values else math.nan
            out[f"{metric}_min"] = min(values) if values else math.nan
            out[f"{metric}_max"] = max(values) if values else math.nan
        combined.append(out)
    return combined


def is_number(value: Any) -> TypeGuard[float]:
    """A finite number (not NaN, infinity or a boolean): a metric that measured something."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def comparable(rows: Iterable[Row]) -> list[Row]:
    """Rows without the wall-clock fields, for comparing two runs of the same cells."""
    return [{k: v for k, v in row.items() if k not in TIMING_FIELDS} for row in rows]


def jsonable(value: Any) -> Any:
    """NaN and infinities as null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write_results(folder: Path, rows: Sequence[Row], combined: Sequence[Row]) -> list[Path]:
    """rows.csv and rows.json (one row per cell) and summary.csv (one per profile x load x fleet)."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in (("rows.csv", rows), ("summary.csv", combined)):
        path = folder / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            if table:
                writer = csv.DictWriter(handle, fieldnames=list(table[0]))
                writer.writeheader()
                writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)
        written.append(path)
    path = folder / "rows.json"
    path.write_text(json.dumps(jsonable(list(rows)), indent=2) + "\n", encoding="utf-8")
    written.insert(1, path)
    return written


__all__ = [
    "Cell",
    "SweepError",
    "SweepSpec",
    "TraceSource",
    "aggregate",
    "check",
    "comparable",
    "expand",
    "load_spec",
    "run_cell",
    "run_on_ray",
    "run_serial",
    "run_sweep",
    "scale_time",
    "spec_from_dict",
    "write_results",
]
