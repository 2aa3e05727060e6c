"""What one simulation run produces: a record per job and the fleet's busy accelerators over time."""

from __future__ import annotations

from dataclasses import dataclass, field

from suanli.simulation.workload import TraceJob


@dataclass(slots=True)
class JobRecord:
    """What happened to one job of the workload."""

    job: TraceJob
    submit_s: float
    start_s: float | None = None
    end_s: float | None = None
    center: str = ""
    pool: str = ""
    accelerator: str = ""
    nodes: tuple[int, ...] = ()  # node indices in its pool
    accelerators: int = 0  # held while it ran, over all its nodes
    gpus_held: float = 0.0  # the same, counting a shared GPU by its share
    price_per_hour: float = 0.0
    carbon_intensity: float = 0.0
    why_not: str = ""  # for a job that never ran: the scheduler's reasons
    preemptions: int = 0
    held_s: float = 0.0  # seconds it held accelerators, over all its runs
    accelerator_s: float = 0.0  # accelerator-seconds held (shared GPUs by their share)
    cost: float = 0.0  # what its placements cost, at the scheduler's prices
    ideal_s: float = 0.0  # its run time alone on the fleet's fastest model

    @property
    def queued_s(self) -> float | None:
        return None if self.start_s is None else self.start_s - self.submit_s

    @property
    def jct_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.submit_s

    @property
    def run_s(self) -> float | None:
        return None if self.end_s is None or self.start_s is None else self.end_s - self.start_s


@dataclass
class SimulationResult:
    workload: str
    fleet: str
    profile: str
    records: list[JobRecord]
    busy: list[tuple[float, float]]  # (time, accelerators busy from then on): a step function
    capacity: int  # accelerators in the fleet (CPU cores not counted)
    cycles: int
    decision_s: float  # wall time spent inside the scheduler's cycles
    wall_s: float
    cycle_times: list[float] = field(default_factory=list)  # wall seconds of each cycle

    @property
    def finished(self) -> list[JobRecord]:
        return [r for r in self.records if r.end_s is not None]

    @property
    def never_ran(self) -> list[JobRecord]:
        return [r for r in self.records if r.start_s is None]


def compress_steps(timeline: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Keeps the last value at each moment and drops points that change nothing."""
    out: list[tuple[float, float]] = []
    for moment, value in timeline:
        if out and out[-1][0] == moment:
            out[-1] = (moment, value)
        elif not out or out[-1][1] != value:
            out.append((moment, value))
    return out
