"""The discrete-event simulation: a virtual clock drives the server's own scheduler cycle.

Simulated centers stand in for agents: a placed job "runs" for its trace run time on the
accelerator it was given, then gives its nodes back. Nothing here decides where a job goes or
in which order: that is ``Scheduler.run_cycle`` with the profile's plugins, exactly as the server
calls it, on a ``Snapshot`` built from the fleet's centers as the server builds one from its
registered centers.

Time: events are job arrivals and job ends. After the events of one moment are applied, one
cycle runs on every job still waiting, as the server's loop runs a cycle after each wake-up.
With ``cycle_interval_s`` the moments are rounded up to a grid (the server's timer), which
coalesces events and costs fewer cycles.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Center
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.registry import Profile
from suanli.scheduler.request import SchedulingRequest, Shape
from suanli.scheduler.snapshot import Snapshot
from suanli.simulation.fleet import Fleet
from suanli.simulation.workload import TraceJob, Workload

Progress = Callable[[int, int], None]  # (jobs finished, jobs in the workload)


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
    price_per_hour: float = 0.0
    carbon_intensity: float = 0.0
    why_not: str = ""  # for a job that never ran: the scheduler's reasons

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
    busy: list[tuple[float, int]]  # (time, accelerators busy from then on): a step function
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


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """How a trace job becomes a scheduling request: which accelerators it may use and whether
    the scheduler is told its run time (an oracle time limit, which backfill uses)."""

    oracle_time_limits: bool = False
    cpus_per_accelerator: int = 1


class Simulation:
    def __init__(
        self,
        workload: Workload,
        fleet: Fleet,
        profile: Profile | str = "default",
        *,
        cycle_interval_s: float = 0.0,
        requests: RequestPolicy | None = None,
    ) -> None:
        self.workload = workload
        self.fleet = fleet.canonical()
        self.catalog: AcceleratorCatalog = self.fleet.catalog()
        self.scheduler = Scheduler(profile)
        self.profile_name = self.scheduler.profile.name
        self.cycle_interval_s = cycle_interval_s
        self.requests = requests or RequestPolicy()
        self._centers = [Center(spec=spec) for spec in self.fleet.center_specs()]
        self._group_centers = self.fleet.group_centers()
        models: dict[str, int] = {}
        for spec in self.fleet.center_specs():
            for pool in spec.pools:
                if pool.accelerator != CPU:
                    models[pool.accelerator] = max(models.get(pool.accelerator, 0), pool.accelerators_per_node)
        self._gpu_models = models  # model -> the most it has on one node

    # -- requests --------------------------------------------------------------------------------

    def request_for(self, job_id: int, job: TraceJob) -> SchedulingRequest:
        """The job as the scheduler sees it. A GPU job may run on any GPU model of the fleet that
        has a node big enough, spread over as few nodes as that model allows unless the trace
        says how many; a CPU job asks for its cores."""
        if job.gpus > 0:
            alternatives: list[tuple[str, int]] = []
            nodes = job.nodes
            for model, per_node_max in self._gpu_models.items():
                count = nodes or math.ceil(job.gpus / per_node_max)
                per_node = math.ceil(job.gpus / count)
                if per_node <= per_node_max and (nodes == 0 or nodes == count):
                    alternatives.append((model, per_node))
                    nodes = count
            if not alternatives:  # too big for any node: asked as is, the scheduler says why
                alternatives = [(model, job.gpus) for model in self._gpu_models] or [("GPU", job.gpus)]
                nodes = nodes or 1
            cpus = max(1, int(job.cpus) or self.requests.cpus_per_accelerator * alternatives[0][1])
        else:
            nodes = job.nodes or 1
            alternatives = [(CPU, max(1, math.ceil(job.cpus)))]
            cpus = alternatives[0][1]
        shape = Shape(
            alternatives=tuple(alternatives),
            nodes=nodes,
            cpus=cpus,
            memory_gb=0.0,
            regions=frozenset(),
            center_kinds=frozenset(),
            centers=self._group_centers.get(job.group, frozenset()),
            max_price_per_hour=None,
            deadline=None,
            time_limit=max(1.0, job.duration_s) if self.requests.oracle_time_limits else None,
        )
        return SchedulingRequest(job_id, 0, shape, job.group or "default")

    # -- the run ---------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> SimulationResult:
        started = time.perf_counter()
        jobs = self.workload.jobs
        records = [JobRecord(job, job.submit_s) for job in jobs]
        snapshot = Snapshot.build(self._centers, [], {model.name: model.throughput for model in self.catalog})
        pools = snapshot.pools
        capacity = sum(p.total for p in pools if p.accelerator != CPU)
        epoch = self.workload.epoch_s or 0.0
        waiting: dict[int, SchedulingRequest] = {}
        ends: list[tuple[float, int]] = []  # heap of (end time, job index)
        busy = 0
        timeline: list[tuple[float, int]] = [(0.0, 0)]
        next_arrival = 0
        now = 0.0
        finished = 0
        cycles = 0
        decision_s = 0.0
        cycle_times: list[float] = []
        while next_arrival < len(jobs) or ends or waiting:
            upcoming = min(
                jobs[next_arrival].submit_s if next_arrival < len(jobs) else math.inf,
                ends[0][0] if ends else math.inf,
            )
            if math.isinf(upcoming):
                break  # jobs wait that nothing running or arriving will ever make room for
            now = self._tick(upcoming)
            done = []
            while ends and ends[0][0] <= now:
                end, index = heapq.heappop(ends)
                record = records[index]
                record.end_s = end
                busy -= record.accelerators if is_gpu(record.accelerator) else 0
                done.append(index)
            if done:
                snapshot.undo(done)
                finished += len(done)
                if progress is not None:
                    progress(finished, len(jobs))
            while next_arrival < len(jobs) and jobs[next_arrival].submit_s <= now:
                waiting[next_arrival] = self.request_for(next_arrival, jobs[next_arrival])
                next_arrival += 1
            if not waiting:
                timeline.append((now, busy))
                continue
            tick = time.perf_counter()
            result = self.scheduler.run_cycle(snapshot, waiting.values(), now + epoch, explain_waiting=False)
            spent = time.perf_counter() - tick
            decision_s += spent
            cycle_times.append(spent)
            cycles += 1
            for decision in result.decisions:
                choice = decision.choice
                if choice is None:
                    continue
                index = decision.job_id
                del waiting[index]
                record = records[index]
                record.start_s = now
                record.center, record.pool, record.accelerator = choice.center, choice.pool, choice.accelerator
                record.nodes = choice.node_indices
                record.accelerators = choice.slots * len(choice.node_indices)
                pool = pools[choice.pool_index]
                record.price_per_hour = choice.price_per_hour
                record.carbon_intensity = pool.carbon_intensity
                run_s = self._run_time(record.job, choice.accelerator)
                heapq.heappush(ends, (now + run_s, index))
                if is_gpu(choice.accelerator):
                    busy += record.accelerators
            timeline.append((now, busy))
        if waiting:  # nothing runs and nothing comes: ask the scheduler once why these never start
            explained = self.scheduler.run_cycle(snapshot, waiting.values(), now + epoch)
            for decision in explained.decisions:
                records[decision.job_id].why_not = "; ".join(decision.explain())
        return SimulationResult(
            workload=self.workload.name,
            fleet=self.fleet.name,
            profile=self.profile_name,
            records=records,
            busy=_compress(timeline),
            capacity=capacity,
            cycles=cycles,
            decision_s=decision_s,
            wall_s=time.perf_counter() - started,
            cycle_times=cycle_times,
        )

    def _tick(self, moment: float) -> float:
        """The moment the scheduler sees an event at ``moment``: at once, or the next tick of its timer."""
        step = self.cycle_interval_s
        return moment if step <= 0 else math.ceil(moment / step) * step

    def _run_time(self, job: TraceJob, accelerator: str) -> float:
        seconds = job.run_time_on(accelerator, self.workload.reference_accelerator, self.catalog)
        # A model the trace measured at zero speed never finishes; the scheduler had no way to
        # know, so the job holds its nodes for its nominal duration and is counted as run.
        return job.duration_s if math.isinf(seconds) else max(0.0, seconds)


def is_gpu(accelerator: str) -> bool:
    return accelerator != CPU and accelerator != ""


def _compress(timeline: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """Keeps the last value at each moment and drops points that change nothing."""
    out: list[tuple[float, int]] = []
    for moment, value in timeline:
        if out and out[-1][0] == moment:
            out[-1] = (moment, value)
        elif not out or out[-1][1] != value:
            out.append((moment, value))
    return out
