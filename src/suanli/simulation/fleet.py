"""Fleets: the centers and pools a simulation runs on, from YAML or built for a trace.

A fleet file::

    name: two-sites
    accelerators:            # optional: models the built-in catalog lacks
      - {name: X1, memory_gb: 64, throughput: 1.5}
    centers:
      - name: qd
        region: qingdao
        pools:
          - {name: a100, accelerator: A100, nodes: 16, accelerators_per_node: 8,
             cpus_per_node: 128, memory_gb_per_node: 1024,
             price_per_accelerator_hour: 12.5, carbon_intensity: 420}

Pools are the domain's :class:`~suanli.domain.centers.Pool`; accelerator names are resolved
against the catalog (built-ins, :data:`TRACE_ACCELERATORS`, and the file's own ``accelerators``)
and stored in canonical form.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from suanli.domain.accelerators import CPU, AcceleratorCatalog, ExtraAccelerator
from suanli.domain.centers import Backend, CenterKind, CenterSpec, Name, Pool
from suanli.domain.errors import InvalidSpec, invalid
from suanli.simulation.catalog import TRACE_ACCELERATORS, trace_catalog
from suanli.simulation.traces._table import BadField, collect, integer, open_table
from suanli.simulation.traces.errors import TraceError
from suanli.simulation.workload import Workload


class FleetError(InvalidSpec):
    title = "Invalid fleet"


class FleetCenter(BaseModel):
    """A center in a fleet file; converts to the domain's :class:`CenterSpec`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    owner: str = Field(default="simulation", min_length=1, max_length=200)
    kind: CenterKind = CenterKind.AI
    region: str = Field(default="sim", min_length=1, max_length=100)
    pools: tuple[Pool, ...] = Field(min_length=1, max_length=256)
    # Job groups (a trace's VC, queue or tenant) whose jobs may run only on the centers that list
    # them, as Philly's virtual clusters; a group no center lists may run anywhere.
    groups: tuple[str, ...] = Field(default=(), max_length=10_000)

    @field_validator("pools")
    @classmethod
    def _unique_pool_names(cls, pools: tuple[Pool, ...]) -> tuple[Pool, ...]:
        repeated = sorted(name for name, n in Counter(p.name for p in pools).items() if n > 1)
        if repeated:
            raise ValueError(f"pool names must be unique within a center; repeated: {', '.join(repeated)}")
        return pools

    def to_spec(self) -> CenterSpec:
        return CenterSpec(
            name=self.name,
            owner=self.owner,
            kind=self.kind,
            region=self.region,
            backend=Backend.LOCAL,
            pools=self.pools,
        )


class Fleet(BaseModel):
    """Centers and pools, with the accelerator models they use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="fleet", min_length=1, max_length=200)
    accelerators: tuple[ExtraAccelerator, ...] = ()
    centers: tuple[FleetCenter, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Fleet:
        repeated = sorted(name for name, n in Counter(c.name for c in self.centers).items() if n > 1)
        if repeated:
            raise ValueError(f"center names must be unique; repeated: {', '.join(repeated)}")
        catalog = self.catalog()
        for c, center in enumerate(self.centers):
            for p, pool in enumerate(center.pools):
                if pool.accelerator not in catalog:
                    known = ", ".join(sorted(m.name for m in catalog))
                    raise ValueError(
                        f"centers[{c}].pools[{p}].accelerator: unknown model {pool.accelerator!r}; "
                        f"known: {known}; or add it under 'accelerators'"
                    )
        return self

    def catalog(self) -> AcceleratorCatalog:
        """The built-in catalog plus :data:`TRACE_ACCELERATORS` and this fleet's own models."""
        return trace_catalog(self.accelerators)

    def canonical(self) -> Fleet:
        """The same fleet with every pool's accelerator in its catalog's canonical spelling."""
        catalog = self.catalog()
        centers = tuple(
            center.model_copy(
                update={
                    "pools": tuple(
                        pool.model_copy(update={"accelerator": catalog.canonical(pool.accelerator)})
                        for pool in center.pools
                    )
                }
            )
            for center in self.centers
        )
        return self.model_copy(update={"centers": centers})

    def gpus(self) -> int:
        """Accelerators in the fleet, CPU pools not counted."""
        return sum(pool.accelerators for center in self.centers for pool in center.pools if pool.accelerator != CPU)

    def center_specs(self) -> tuple[CenterSpec, ...]:
        return tuple(center.to_spec() for center in self.centers)

    def group_centers(self) -> dict[str, frozenset[str]]:
        """For each listed job group, the centers its jobs may run on."""
        found: dict[str, set[str]] = {}
        for center in self.centers:
            for group in center.groups:
                found.setdefault(group, set()).add(center.name)
        return {group: frozenset(names) for group, names in found.items()}

    def accelerator_counts(self) -> dict[str, int]:
        """Accelerators per canonical model over the whole fleet."""
        counts: Counter[str] = Counter()
        catalog = self.catalog()
        for center in self.centers:
            for pool in center.pools:
                counts[catalog.canonical(pool.accelerator)] += pool.accelerators
        return dict(counts)


def fleet_from_dict(data: object, source: str = "the fleet") -> Fleet:
    """Validate ``data``; errors list each bad field by its path (``centers[0].pools[1].nodes``)."""
    try:
        return Fleet.model_validate(data).canonical()
    except ValidationError as error:
        raise invalid(error, source, FleetError) from None


def read_yaml_mapping(path: Path | str, what: str, top: str, error: type[InvalidSpec]) -> dict[str, Any]:
    """The mapping at the top of a YAML file; a missing file, bad YAML (with line and column) or
    anything but a mapping raises ``error`` saying so."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise error(f"{path}: cannot read the {what}: {problem.strerror or problem}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise error(f"{path}{where}: not valid YAML: {getattr(problem, 'problem', None) or problem}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping with '{top}' at the top, got {type(data).__name__}")
    return data


def load_fleet(path: Path | str) -> Fleet:
    """A fleet from a YAML file; a missing file, bad YAML or a bad field is a :class:`FleetError`."""
    return fleet_from_dict(read_yaml_mapping(path, "fleet file", "centers", FleetError), str(path))


def trace_fleet(kind: str, trace: Path | str, workload: Workload | None = None) -> Fleet | None:
    """The fleet a trace brings (the Philly VC list or the openb node list next to it, Gavel's
    or Pollux's cluster), or None for a trace that brings none (generic)."""
    folder = Path(trace).parent
    if kind == "philly":
        return philly_fleet(folder / "philly_vc.csv", workload)
    if kind == "openb":
        return openb_fleet(folder / "openb_node_list_gpu_node.csv")
    if kind == "gavel":
        return gavel_fleet()
    if kind == "pollux":
        return pollux_fleet()
    return None


def dump_fleet(fleet: Fleet) -> str:
    """YAML that :func:`load_fleet` reads back to an equal fleet."""
    return yaml.safe_dump(fleet.model_dump(mode="json"), sort_keys=False)


def _pool(
    name: str,
    accelerator: str,
    nodes: int,
    per_node: int,
    *,
    cpus_per_node: int | None = None,
    memory_gb_per_node: float | None = None,
    price_per_accelerator_hour: float = 0.0,
    carbon_intensity: float = 500.0,
    share_gpus: bool = False,
) -> Pool:
    """A pool; CPUs and memory default to 8 cores and 64 GB per accelerator when a trace omits them."""
    return Pool(
        name=name,
        accelerator=accelerator,
        nodes=nodes,
        accelerators_per_node=per_node,
        cpus_per_node=cpus_per_node if cpus_per_node is not None else 8 * per_node,
        memory_gb_per_node=memory_gb_per_node if memory_gb_per_node is not None else 64.0 * per_node,
        price_per_accelerator_hour=price_per_accelerator_hour,
        carbon_intensity=carbon_intensity,
        share_gpus=share_gpus,
    )


# ---------------------------------------------------------------- fleets that come with traces

PHILLY_GPUS_PER_NODE = 8


def philly_fleet(
    vc_csv: Path | str,
    workload: Workload | None = None,
    *,
    absent_vc_nodes: int = 1,
    accelerator: str = "P100",
    price_per_accelerator_hour: float = 0.0,
    carbon_intensity: float = 500.0,
) -> Fleet:
    """Philly: one center per VC (``vc-<id>``, listing the VC as its job group), so a VC's jobs
    run in its own VC.

    ``philly_vc.csv`` gives each VC's node count (column ``node num``); nodes have 8 GPUs. The
    trace has VCs the file lacks ("small" per the data README): given ``workload``, each such VC
    gets ``absent_vc_nodes`` nodes, and at least enough for its largest job. Philly names no GPU
    model; ``accelerator`` (P100 by default) is an assumption.
    """
    table = open_table(vc_csv, ("vc", "node num"), "Philly VC list (philly_vc.csv)")
    i_vc, i_nodes = table.index["vc"], table.index["node num"]

    def parse(line: int, row: list[str]) -> tuple[str, int]:
        vc = row[i_vc].strip()
        if not vc:
            raise BadField("vc", "empty VC id")
        return vc, integer(row[i_nodes], "node num", minimum=1)

    rows, _ = collect(table, parse, skip_bad=False)
    nodes = dict(rows)
    if len(nodes) != len(rows):
        repeated = sorted(vc for vc, n in Counter(vc for vc, _ in rows).items() if n > 1)
        raise TraceError(table.path, None, "vc", f"VC(s) listed twice: {', '.join(repeated)}")
    if workload is not None:
        largest: dict[str, int] = {}
        for job in workload.jobs:
            largest[job.group] = max(largest.get(job.group, 0), job.gpus)
        for vc, gpus in largest.items():
            if vc not in nodes:
                nodes[vc] = max(absent_vc_nodes, math.ceil(gpus / PHILLY_GPUS_PER_NODE))
    centers = [
        FleetCenter(
            name=philly_pool_name(vc),
            region="philly",
            groups=(vc,),
            pools=(
                _pool(
                    "gpu",
                    accelerator,
                    n,
                    PHILLY_GPUS_PER_NODE,
                    price_per_accelerator_hour=price_per_accelerator_hour,
                    carbon_intensity=carbon_intensity,
                ),
            ),
        )
        for vc, n in nodes.items()
    ]
    return fleet_from_dict({"name": "philly", "centers": centers}, "philly fleet")


def philly_pool_name(vc: str) -> str:
    """The center a Philly VC's jobs run in."""
    return "vc-" + "".join(ch if ch.isalnum() else "-" for ch in vc.lower()).strip("-")


def openb_fleet(
    node_csv: Path | str,
    *,
    price_per_accelerator_hour: Mapping[str, float] | None = None,
    carbon_intensity: float = 500.0,
    include_cpu_nodes: bool = False,
) -> Fleet:
    """Alibaba openb: one center, one pool per distinct node shape (model, GPUs, CPUs, memory).
    Its GPU pools share GPUs (``share_gpus``), as the cluster's pods do.

    Trace model names map to the catalog (``V100M16``/``V100M32`` are V100 aliases, T4 is built
    in); P100, A10 and the anonymized G2/G3 come from :data:`TRACE_ACCELERATORS`. A pool is
    named after the trace's model and the shape (``v100m16-4g-32c``). Nodes without GPUs are left
    out unless ``include_cpu_nodes`` (they become CPU pools counting cores).
    """
    table = open_table(node_csv, ("sn", "cpu_milli", "memory_mib", "gpu", "model"), "openb node list")
    i_cpu, i_mem, i_gpu, i_model = (table.index[c] for c in ("cpu_milli", "memory_mib", "gpu", "model"))
    catalog = trace_catalog()

    def parse(line: int, row: list[str]) -> tuple[str, int, int, int] | None:
        gpus = integer(row[i_gpu], "gpu")
        model = row[i_model].strip()
        cpus = integer(row[i_cpu], "cpu_milli", minimum=1000) // 1000
        memory = integer(row[i_mem], "memory_mib", minimum=1)
        if gpus == 0:
            return ("CPU", cpus, cpus, memory) if include_cpu_nodes else None
        if not model:
            raise BadField("model", "empty, but the node has GPUs; name the GPU model")
        if model not in catalog:
            raise BadField("model", f"unknown GPU model {model!r}; add it to the catalog")
        return model, gpus, cpus, memory

    shapes, _ = collect(table, parse, skip_bad=False)
    prices = dict(price_per_accelerator_hour or {})
    pools: list[Pool] = []
    for (model, gpus, cpus, memory), count in Counter(shapes).items():
        name = f"{model.lower()}-{gpus}g-{cpus}c" if model != "CPU" else f"cpu-{cpus}c"
        if any(p.name == name for p in pools):
            name += f"-{memory // 1024}g"
        pools.append(
            _pool(
                name,
                catalog.canonical(model),
                count,
                gpus,
                cpus_per_node=cpus,
                memory_gb_per_node=memory / 1024,
                price_per_accelerator_hour=prices.get(model, prices.get(catalog.canonical(model), 0.0)),
                carbon_intensity=carbon_intensity,
                share_gpus=model != "CPU",  # openb's GPUs are shared (gpu_milli)
            )
        )
    return fleet_from_dict({"name": "openb", "centers": [FleetCenter(name="openb", pools=tuple(pools))]}, "openb fleet")


def gavel_fleet(
    counts: Mapping[str, int] | None = None,
    *,
    gpus_per_node: int = 1,
    price_per_accelerator_hour: Mapping[str, float] | None = None,
    carbon_intensity: float = 500.0,
) -> Fleet:
    """Gavel's heterogeneous cluster: 36 V100 + 36 P100 + 36 K80 by default.

    ``counts`` maps accelerator to GPU count (each a multiple of ``gpus_per_node``). Gavel's
    simulator treats GPUs as independent workers; ``gpus_per_node=1`` does the same.
    """
    counts = dict(counts) if counts is not None else {"V100": 36, "P100": 36, "K80": 36}
    prices = dict(price_per_accelerator_hour or {})
    catalog = trace_catalog()
    pools: list[Pool] = []
    for model, gpus in counts.items():
        if gpus % gpus_per_node:
            raise FleetError(f"gavel fleet: {gpus} {model} GPUs is not a multiple of gpus_per_node={gpus_per_node}")
        pools.append(
            _pool(
                model.lower(),
                catalog.canonical(model) if model in catalog else model,
                gpus // gpus_per_node,
                gpus_per_node,
                price_per_accelerator_hour=prices.get(model, 0.0),
                carbon_intensity=carbon_intensity,
            )
        )
    return fleet_from_dict({"name": "gavel", "centers": [FleetCenter(name="gavel", pools=tuple(pools))]}, "gavel fleet")


def pollux_fleet(*, nodes: int = 16, price_per_accelerator_hour: float = 0.0, carbon_intensity: float = 500.0) -> Fleet:
    """Pollux's testbed (OSDI'21), which its workloads' profiles were measured on: ``nodes`` nodes
    of 4 T4 GPUs, 48 CPUs and 192 GB each (AWS g4dn.12xlarge), 16 by default (64 GPUs)."""
    pool = _pool(
        "t4",
        "T4",
        nodes,
        4,
        cpus_per_node=48,
        memory_gb_per_node=192.0,
        price_per_accelerator_hour=price_per_accelerator_hour,
        carbon_intensity=carbon_intensity,
    )
    return fleet_from_dict({"name": "pollux", "centers": [FleetCenter(name="pollux", pools=(pool,))]}, "pollux fleet")


__all__ = [
    "TRACE_ACCELERATORS",
    "Fleet",
    "FleetCenter",
    "FleetError",
    "dump_fleet",
    "fleet_from_dict",
    "gavel_fleet",
    "load_fleet",
    "openb_fleet",
    "philly_fleet",
    "philly_pool_name",
    "pollux_fleet",
    "read_yaml_mapping",
    "trace_fleet",
    "trace_catalog",
]
