"""What the scheduler needs to know about a waiting job, in a compact, hashable form."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.domain.jobs import JobSpec


@dataclass(frozen=True, slots=True)
class Shape:
    """Everything that decides where a job may go. Jobs with equal shapes get equal answers
    from every filter while capacity does not change, so a cycle evaluates each shape once."""

    alternatives: tuple[tuple[str, int], ...]  # (accelerator model, per-node count)
    nodes: int
    cpus: int
    memory_gb: float
    regions: frozenset[str]
    center_kinds: frozenset[str]
    centers: frozenset[str]
    max_price_per_hour: float | None
    deadline: float | None  # epoch seconds
    time_limit: float | None  # seconds


@dataclass(frozen=True, slots=True)
class SchedulingRequest:
    job_id: int
    priority: int
    shape: Shape
    tenant_id: str = "default"

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
    model: str, count: int, nodes: int = 1, *, time_limit: float | None = None, cpus: int = 1, memory_gb: float = 1.0
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
    )
