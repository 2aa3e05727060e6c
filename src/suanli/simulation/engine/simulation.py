"""A simulation's setup: the workload, the fleet and the scheduler, how a trace job becomes a
scheduling request, and how long it runs on each accelerator model."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Center
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.packing import Mix
from suanli.scheduler.registry import Profile
from suanli.scheduler.request import SchedulingRequest, Shape
from suanli.scheduler.sharing import WHOLE, demand_of
from suanli.scheduler.snapshot import Snapshot
from suanli.simulation.engine.accounting import Progress
from suanli.simulation.engine.loop import EventLoop
from suanli.simulation.engine.results import SimulationResult, compress_steps
from suanli.simulation.fleet import Fleet
from suanli.simulation.workload import TraceJob, Workload


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """How a trace job becomes a scheduling request: which accelerators it may use and whether
    the scheduler is told its run time (an oracle time limit, which backfill uses)."""

    oracle_time_limits: bool = False
    cpus_per_accelerator: int = 1
    # What a preemption costs: a preempted job resumes only after this many seconds on its new
    # accelerators (writing and reading its checkpoint).
    restore_s: float = 30.0


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
        self.centers = [Center(spec=spec) for spec in self.fleet.center_specs()]
        self.throughput = {model.name: model.throughput for model in self.catalog}
        self._group_centers = self.fleet.group_centers()
        models: dict[str, int] = {}
        shared: set[str] = set()
        for spec in self.fleet.center_specs():
            for pool in spec.pools:
                if pool.accelerator != CPU:
                    models[pool.accelerator] = max(models.get(pool.accelerator, 0), pool.accelerators_per_node)
                if pool.share_gpus:
                    shared.add(pool.accelerator)
        self._gpu_models = models  # model -> the most it has on one node
        self._shared_models = sorted(shared)  # models with pools that share GPUs
        # The target workload fragmentation-aware packing keeps room for: the trace's own mix.
        self.mix: Mix | None = None
        if self.scheduler.needs_mix:
            asked = (self.request_for(index, job).shape for index, job in enumerate(workload.jobs))
            self.mix = Mix(demand_of(shape, shape.alternatives[0][1]) for shape in asked)

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
            if job.gpu_milli < WHOLE:  # part of one GPU: only pools that share GPUs offer that
                alternatives = [(model, 1) for model in self._shared_models] or alternatives
            cpus = job.cpus / nodes if job.cpus > 0 else float(self.requests.cpus_per_accelerator * alternatives[0][1])
        else:
            nodes = job.nodes or 1
            # Its cores on a CPU pool, or the CPUs of a node whose GPUs are shared.
            alternatives = [(CPU, max(1, math.ceil(job.cpus))), *((model, 0) for model in self._shared_models)]
            cpus = job.cpus if job.cpus > 0 else float(alternatives[0][1])
        shape = Shape(
            alternatives=tuple(alternatives),
            nodes=nodes,
            cpus=cpus,
            memory_gb=job.memory_gb / nodes,
            regions=frozenset(),
            center_kinds=frozenset(),
            centers=self._group_centers.get(job.group, frozenset()),
            max_price_per_hour=None,
            deadline=None,
            time_limit=max(1.0, job.duration_s) if self.requests.oracle_time_limits else None,
            gpu_milli=job.gpu_milli if job.gpus == 1 else WHOLE,
        )
        return SchedulingRequest(job_id, 0, shape, job.group or "default")

    # -- the run ---------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> SimulationResult:
        started = time.perf_counter()
        loop = EventLoop(self, progress)
        loop.run()
        accounting = loop.accounting
        return SimulationResult(
            workload=self.workload.name,
            fleet=self.fleet.name,
            profile=self.profile_name,
            records=accounting.records,
            busy=compress_steps(accounting.timeline),
            capacity=accounting.capacity,
            cycles=accounting.cycles,
            decision_s=accounting.decision_s,
            wall_s=time.perf_counter() - started,
            cycle_times=accounting.cycle_times,
        )

    def fresh_snapshot(self) -> Snapshot:
        snapshot = Snapshot.build(self.centers, [], self.throughput)
        snapshot.mix = self.mix
        return snapshot

    def tick(self, moment: float) -> float:
        """The moment the scheduler sees an event at ``moment``: at once, or the next tick of its timer."""
        step = self.cycle_interval_s
        return moment if step <= 0 else math.ceil(moment / step) * step

    def run_time(self, job: TraceJob, accelerator: str) -> float:
        seconds = job.run_time_on(accelerator, self.workload.reference_accelerator, self.catalog)
        # A model the trace measured at zero speed never finishes; the scheduler had no way to
        # know, so the job holds its nodes for its nominal duration and is counted as run.
        return job.duration_s if math.isinf(seconds) else max(0.0, seconds)

    def ideal_time(self, job: TraceJob) -> float:
        """Its run time alone on the fastest accelerator model of the fleet."""
        if job.gpus == 0 or not self._gpu_models:
            return job.duration_s
        return min(self.run_time(job, model) for model in self._gpu_models)
