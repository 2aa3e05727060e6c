"""What the scheduler needs to know about a waiting job, in a compact, hashable form."""

from __future__ import annotations

from dataclasses import dataclass, field

from suanli.domain.jobs import JobSpec


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """Everything that decides where a job may go. Jobs with equal shapes get equal answers
    from every filter while capacity does not change, so a cycle evaluates each shape once."""

    alternatives: tuple[tuple[str, int], ...]  # (accelerator model, per-node count)
    nodes: int
    cpus: float  # per node
    memory_gb: float
    regions: frozenset[str]
    center_kinds: frozenset[str]
    centers: frozenset[str]
    max_price_per_hour: float | None
    deadline: float | None  # epoch seconds
    time_limit: float | None  # seconds
    # The share of each accelerator in milli (1000: whole ones). Below 1000 only for a job on one
    # accelerator of one node, which then runs only on pools that share GPUs (scheduler/sharing.py).
    gpu_milli: int = 1000
    # Derived once: shapes are dictionary keys on the scheduler's hot path.
    _hash: int = field(init=False, repr=False, compare=False)
    plan_key: Shape = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Written out field by field: this runs once per queued job, so it is kept cheap.
        common = (
            self.alternatives,
            self.nodes,
            self.cpus,
            self.memory_gb,
            self.regions,
            self.center_kinds,
            self.centers,
            self.max_price_per_hour,
            self.deadline,
        )
        object.__setattr__(self, "_hash", hash((*common, self.time_limit, self.gpu_milli)))
        # Static filters read the time limit only to check a deadline; backfill reads it per job.
        key = self if self.time_limit is None or self.deadline is not None else Shape(*common, None, self.gpu_milli)
        object.__setattr__(self, "plan_key", key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        # Shapes are compared on every dictionary hit of a cycle: stop at the first difference.
        if self is other:
            return True
        if not isinstance(other, Shape) or self._hash != other._hash:
            return False
        return (
            self.alternatives == other.alternatives
            and self.nodes == other.nodes
            and self.time_limit == other.time_limit
            and self.cpus == other.cpus
            and self.memory_gb == other.memory_gb
            and self.regions == other.regions
            and self.center_kinds == other.center_kinds
            and self.centers == other.centers
            and self.max_price_per_hour == other.max_price_per_hour
            and self.deadline == other.deadline
            and self.gpu_milli == other.gpu_milli
        )


@dataclass(frozen=True, slots=True)
class SchedulingRequest:
    job_id: int
    priority: int
    shape: Shape
    tenant_id: str = "default"
    # What service-aware queue orders read (las, shortest-first): accelerator-seconds the job has
    # received so far, and the seconds it is expected still to need (None: unknown).
    attained_s: float = 0.0
    expected_s: float | None = None

    @property
    def accelerators(self) -> int:
        """Accelerators it holds when it runs (its first alternative's count on every node)."""
        return self.shape.alternatives[0][1] * self.shape.nodes if self.shape.alternatives else 0

    @classmethod
    def from_spec(cls, job_id: int, spec: JobSpec, tenant_id: str = "default") -> SchedulingRequest:
        c = spec.constraints
        shape = Shape(
            alternatives=tuple((a.model, a.count) for a in spec.alternatives()),
            nodes=spec.nodes,
            cpus=spec.resources.cpus,
            memory_gb=spec.resources.memory_gb,
            regions=frozenset(c.regions),
            center_kinds=frozenset(k.value for k in c.center_kinds),
            centers=frozenset(c.centers),
            max_price_per_hour=c.max_price_per_hour,
            deadline=c.deadline.timestamp() if c.deadline else None,
            time_limit=spec.time_limit,
        )
        return cls(job_id, spec.priority, shape, tenant_id)


def simple_shape(
    model: str,
    count: int,
    nodes: int = 1,
    *,
    time_limit: float | None = None,
    cpus: float = 1,
    memory_gb: float = 1.0,
    gpu_milli: int = 1000,
) -> Shape:
    """A shape with no constraints: handy for simulators, benchmarks and tests."""
    return Shape(
        alternatives=((model, count),),
        nodes=nodes,
        cpus=cpus,
        memory_gb=memory_gb,
        regions=frozenset(),
        center_kinds=frozenset(),
        centers=frozenset(),
        max_price_per_hour=None,
        deadline=None,
        time_limit=time_limit,
        gpu_milli=gpu_milli,
    )
