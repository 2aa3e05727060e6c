"""A sweep's spec: what to sweep (trace, profiles, loads, seeds, fleets), read from YAML or options,
validated field by field, and checked (profiles, fleets, the trace file) before anything runs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from suanli.domain.errors import InvalidSpec, SuanliError, invalid

GENERATED = frozenset({"gavel"})  # trace kinds whose load is an arrival rate (and which take a seed)
KINDS = ("philly", "openb", "pollux", "gavel", "generic")
DEFAULT_FLEET = "default"  # a fleet entry meaning the trace's own fleet
DEFAULT_JOBS_PER_HOUR = 4.0
DEFAULT_FILL = 1.3  # arrivals: fill's default load, as FGD's measure


class SweepError(InvalidSpec):
    title = "Invalid sweep"


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
