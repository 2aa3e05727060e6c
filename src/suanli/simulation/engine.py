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
from dataclasses import dataclass, field, replace

from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Center
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.framework import Choice
from suanli.scheduler.packing import Mix
from suanli.scheduler.registry import Profile
from suanli.scheduler.request import SchedulingRequest, Shape
from suanli.scheduler.sharing import WHOLE, demand_of
from suanli.scheduler.snapshot import Snapshot
from suanli.scheduler.timeshare import Allocation, ShareJob, time_share_policy
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
        run = _Run(self, progress)
        run.loop()
        return SimulationResult(
            workload=self.workload.name,
            fleet=self.fleet.name,
            profile=self.profile_name,
            records=run.records,
            busy=_compress(run.timeline),
            capacity=run.capacity,
            cycles=run.cycles,
            decision_s=run.decision_s,
            wall_s=time.perf_counter() - started,
            cycle_times=run.cycle_times,
        )

    def fresh_snapshot(self) -> Snapshot:
        snapshot = Snapshot.build(self.centers, [], self.throughput)
        snapshot.mix = self.mix
        return snapshot

    def _tick(self, moment: float) -> float:
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


@dataclass(slots=True)
class _Running:
    placed_at: float  # when it got its accelerators
    progress_from: float  # when its work resumes (after a restore following a preemption)
    full_s: float  # its whole run time on these accelerators
    pool: int
    nodes: tuple[int, ...]


class _Run:
    """One run's state: the clock, the queue, what runs where, and how much work each job has left
    (as a fraction, so a job moved to another model after a preemption runs at that model's speed)."""

    def __init__(self, sim: Simulation, progress: Progress | None) -> None:
        self.sim = sim
        self.progress = progress
        self.profile = sim.scheduler.profile
        self.order = sim.scheduler.queue_order
        self.policy = sim.requests
        self.jobs = sim.workload.jobs
        self.records = [JobRecord(job, job.submit_s, ideal_s=sim.ideal_time(job)) for job in self.jobs]
        self.snapshot = sim.fresh_snapshot()
        self.capacity = sum(p.total for p in self.snapshot.pools if p.accelerator != CPU)
        self.epoch = sim.workload.epoch_s or 0.0
        self.arrived_as: dict[int, SchedulingRequest] = {}  # each active job's request as it arrived
        self.waiting: dict[int, SchedulingRequest] = {}
        self.running: dict[int, _Running] = {}
        self.left = [1.0] * len(self.jobs)  # fraction of each job's work not done yet
        self.attained = [0.0] * len(self.jobs)  # accelerator-seconds received
        self.version = [0] * len(self.jobs)  # bumps on preemption: stale end events are skipped
        self.ends: list[tuple[float, int, int]] = []  # heap of (end time, job, version)
        self.changes: list[tuple[float, int, int]] = []  # heap of (when its queue key changes, job, version)
        self.history: dict[str, tuple[float, int]] = {}  # group -> (sum of durations, finished jobs)
        self.busy = 0.0
        self.freed = False  # capacity was given back since the last cycle
        self.timeline: list[tuple[float, float]] = [(0.0, 0.0)]
        self.cycles = 0
        self.decision_s = 0.0
        self.cycle_times: list[float] = []
        self.finished = 0
        self.now = 0.0
        self.received: list[dict[str, float]] = [{} for _ in self.jobs]  # seconds held per model
        self.share = time_share_policy(self.profile.time_share) if self.profile.time_share else None
        self.share_capacity: dict[str, int] = {}
        for pool in self.snapshot.pools:
            if pool.accelerator != CPU:
                self.share_capacity[pool.accelerator] = self.share_capacity.get(pool.accelerator, 0) + pool.total
        # A job's speed per model when the trace measured none: the catalog's relative factors.
        self.catalog_speeds = {m: sim.catalog.throughput(m) for m in self.share_capacity}
        self.allocation: Allocation = {}
        self.on_model: dict[tuple[int, str], Shape] = {}  # a job's shape narrowed to one model
        self.allocated_for: frozenset[int] = frozenset()
        self.next_round = 0.0

    # -- the loop --------------------------------------------------------------------------------

    def loop(self) -> None:
        jobs, next_arrival = self.jobs, 0
        while next_arrival < len(jobs) or self.ends or self.waiting:
            upcoming = min(
                jobs[next_arrival].submit_s if next_arrival < len(jobs) else math.inf,
                self.ends[0][0] if self.ends else math.inf,
                self.changes[0][0] if self.changes else math.inf,
                self.next_round if self.share is not None and (self.waiting or self.running) else math.inf,
            )
            if math.isinf(upcoming):
                break  # jobs wait that nothing running or arriving will ever make room for
            self.now = now = self.sim._tick(upcoming)
            self._end_due(now)
            arrived = []
            while next_arrival < len(jobs) and jobs[next_arrival].submit_s <= now:
                self._arrive(next_arrival)
                arrived.append(next_arrival)
                next_arrival += 1
            key_changed = self._keys_due(now)
            if self.share is not None:  # time sharing: the round decides, nothing starts in between
                if now >= self.next_round:
                    self.next_round = (math.floor(now / self.profile.round_s) + 1) * self.profile.round_s
                    if not self._round() and not self.running and next_arrival >= len(jobs):
                        break  # what waits can never be placed
            elif self.waiting:
                self._cycle(self.snapshot, self._worth_trying(arrived))
                # A waiting job can come to deserve a running job's place only by arriving (waiting
                # jobs' keys do not move) or by a running job's key moving back.
                newcomer = any(index in self.waiting for index in arrived)
                if self.profile.preemptive and (key_changed or newcomer) and self._should_replan():
                    self._replan()
            self.timeline.append((now, self.busy))
        if self.waiting:  # nothing runs and nothing comes: ask the scheduler once why these never start
            explained = self.sim.scheduler.run_cycle(self.snapshot, list(self.waiting.values()), self.now + self.epoch)
            for decision in explained.decisions:
                self.records[decision.job_id].why_not = "; ".join(decision.explain())

    def _end_due(self, now: float) -> None:
        done = []
        while self.ends and self.ends[0][0] <= now:
            end, index, version = heapq.heappop(self.ends)
            if version != self.version[index]:
                continue  # it was preempted after this end was planned
            self._stop(index, end)
            self.left[index] = 0.0
            record = self.records[index]
            record.end_s = end
            total, count = self.history.get(record.job.group, (0.0, 0))
            self.history[record.job.group] = (total + record.job.duration_s, count + 1)
            del self.arrived_as[index]
            done.append(index)
        if done:
            self._settled(len(done))

    def _settled(self, count: int) -> None:
        """``count`` more jobs will do nothing more: they ended, or started never to end."""
        self.finished += count
        if self.progress is not None:
            self.progress(self.finished, len(self.jobs))

    def _arrive(self, index: int) -> None:
        request = self.sim.request_for(index, self.jobs[index])
        if self.profile.estimates == "history":  # QSSF: predicted once, from what ended before it came
            total, count = self.history.get(self.jobs[index].group, (0.0, 0))
            request = replace(request, expected_s=total / count if count else None)
        self.arrived_as[index] = request
        self.waiting[index] = self._request(index)

    def _keys_due(self, now: float) -> bool:
        """Running jobs whose queue key changed by now (LAS crossing a threshold)."""
        changed = False
        while self.changes and self.changes[0][0] <= now:
            _, index, version = heapq.heappop(self.changes)
            changed |= version == self.version[index] and index in self.running
        return changed

    def _request(self, index: int) -> SchedulingRequest:
        """The job's request with its service so far and, if the profile wants it, what it still needs."""
        base = self.arrived_as[index]
        expected = base.expected_s
        if self.profile.estimates == "oracle":
            expected = self.left[index] * self.jobs[index].duration_s
        attained = self.attained[index]
        running = self.running.get(index)
        if running is not None:
            attained += base.accelerators * max(0.0, self.now - running.progress_from)
        if attained == base.attained_s and expected == base.expected_s:
            return base
        return replace(base, attained_s=attained, expected_s=expected)

    # -- cycles ----------------------------------------------------------------------------------

    def _cycle(self, snapshot: Snapshot, queue: list[SchedulingRequest]) -> None:
        """A cycle on what is free now; whatever it places starts."""
        for index, choice in self._placements(snapshot, queue).items():
            self._start(index, choice)

    def _worth_trying(self, arrived: list[int]) -> list[SchedulingRequest]:
        """The waiting jobs a cycle could place now. Without backfill, a job that did not fit in
        the last cycle cannot fit while nothing has given capacity back since (placements only
        take), so only the newcomers can start; the cycle's decisions are the same either way."""
        freed, self.freed = self.freed, False
        if freed or self.profile.backfill:  # a reservation depends on every waiting job
            return list(self.waiting.values())
        return [self.waiting[index] for index in arrived if index in self.waiting]

    def _should_replan(self) -> bool:
        """Time sharing: look again only when a waiting job comes before a running one."""
        if not self.waiting or not self.running:
            return False
        first_waiting = min(self.order.key(request) for request in self.waiting.values())
        return any(self.order.key(self._request(index)) > first_waiting for index in self.running)

    def _round(self) -> bool:
        """One round of a time-sharing policy: it picks who runs on which model; the scheduler
        places them in that order on the fleet as the jobs it keeps running leave it. True if
        anything runs."""
        assert self.share is not None
        active = [*self.running, *self.waiting]
        share_jobs = [self._share_job(index) for index in active]
        if len(active) != len(self.allocated_for) or not self.allocated_for.issuperset(active):
            # The shares change only with the set of jobs.
            self.allocation = self.share.allocate(share_jobs, self.share_capacity)
            self.allocated_for = frozenset(active)
        chosen = self.share.assign(share_jobs, self.allocation, self.share_capacity)
        # A running job given its own model again keeps its accelerators: no preemption.
        records = self.records
        kept = {i for i, model in chosen if i in self.running and records[i].accelerator == model}
        if len(kept) == len(chosen) == len(self.running):
            return bool(self.running)  # the same jobs go on where they are: nothing to place
        requests = []
        for rank, (index, model) in enumerate(chosen):
            if index in kept:
                continue
            shape = self.on_model.get((index, model))
            if shape is None:
                base = self.arrived_as[index].shape
                alternatives = tuple(a for a in base.alternatives if a[0] == model)
                shape = self.on_model[(index, model)] = replace(base, alternatives=alternatives)
            requests.append(SchedulingRequest(index, len(chosen) - rank, shape, self.arrived_as[index].tenant_id))
        # The live fleet less what the jobs about to be preempted hold is the fleet holding only
        # the kept jobs (their preemption gives it back again, which changes nothing then).
        fresh = self.snapshot
        fresh.undo([index for index in self.running if index not in kept])
        placed = self._placements(fresh, requests)
        self._move(kept, fresh, placed)
        return bool(self.running)

    def _share_job(self, index: int) -> ShareJob:
        """The job as the time-sharing policy sees it this round (``received`` may be the run's own
        record of it: the policy reads it within the round, before anything changes it)."""
        job = self.jobs[index]
        received = self.received[index]
        running = self.running.get(index)
        if running is not None:
            model = self.records[index].accelerator
            received = dict(received)
            received[model] = received.get(model, 0.0) + self.now - running.placed_at
        remaining, ideal = None, 0.0
        if self.profile.estimates == "oracle" and self.share is not None and self.share.wants_remaining:
            # The trace's true run times, for a policy that reads what jobs still need.
            left = self.left[index]
            if running is not None and running.full_s > 0:
                left = max(0.0, left - max(0.0, self.now - running.progress_from) / running.full_s)
            remaining = {m: left * self.sim.run_time(job, m) for m in self.share_capacity}
            ideal = self.records[index].ideal_s
        return ShareJob(
            index,
            self.arrived_as[index].accelerators,
            job.throughputs or self.catalog_speeds,
            received,
            self.now - job.submit_s,
            remaining,
            ideal,
            self.records[index].accelerator if running is not None else "",
        )

    def _replan(self, active: list[SchedulingRequest] | None = None) -> None:
        """Schedules every active job afresh on an empty fleet, in queue order; running jobs that
        keep their place go on, the others are preempted (and may restart elsewhere)."""
        if active is None:
            active = [self._request(index) for index in (*self.running, *self.waiting)]
        fresh = self.sim.fresh_snapshot()
        chosen = self._placements(fresh, active)
        # A running job the cycle puts back in its own pool keeps its nodes and goes on; the others
        # are placed again around those (a second pass, only if some kept job's nodes moved).
        kept = {i for i in self.running if (c := chosen.get(i)) is not None and c.pool_index == self.running[i].pool}
        if any(chosen[i].node_indices != self.running[i].nodes for i in kept):
            fresh = self._snapshot_holding(kept)
            chosen = self._placements(fresh, [r for r in active if r.job_id not in kept])
        self._move(kept, fresh, chosen)

    def _move(self, kept: set[int], fresh: Snapshot, chosen: dict[int, Choice]) -> None:
        """Running jobs not ``kept`` are preempted; ``fresh`` becomes the fleet; ``chosen`` start."""
        for index in list(self.running):
            if index not in kept:
                self._preempt(index)
        self.snapshot = fresh
        for index, choice in chosen.items():
            if index not in kept:
                self._start(index, choice)

    def _placements(self, snapshot: Snapshot, queue: list[SchedulingRequest]) -> dict[int, Choice]:
        tick = time.perf_counter()
        result = self.sim.scheduler.run_cycle(snapshot, queue, self.now + self.epoch, explain_waiting=False)
        spent = time.perf_counter() - tick
        self.decision_s += spent
        self.cycle_times.append(spent)
        self.cycles += 1
        return {d.job_id: d.choice for d in result.placed if d.choice is not None}

    def _snapshot_holding(self, kept: set[int]) -> Snapshot:
        """An empty fleet but for what the ``kept`` running jobs hold, where they hold it."""
        held = []
        for index in kept:
            record, running = self.records[index], self.running[index]
            slots = record.accelerators // max(1, len(running.nodes))
            held.append((index, record.center, record.pool, running.nodes, slots, None))
        return Snapshot.build(self.sim.centers, held, self.sim.throughput)

    # -- one job ---------------------------------------------------------------------------------

    def _start(self, index: int, choice: Choice) -> None:
        record = self.records[index]
        self.waiting.pop(index, None)
        restore = self.policy.restore_s if self.left[index] < 1.0 else 0.0
        if record.start_s is None:
            record.start_s = self.now
            if math.isinf(record.job.duration_s):
                self._settled(1)  # it runs from now on and never ends (FGD's measure)
        record.center, record.pool, record.accelerator = choice.center, choice.pool, choice.accelerator
        record.nodes = choice.node_indices
        record.accelerators = choice.slots * len(choice.node_indices)
        # A job sharing a GPU holds (and pays for) its share of it.
        record.gpus_held = choice.demand.share * len(choice.node_indices) if choice.demand else record.accelerators
        part = record.gpus_held / record.accelerators if record.accelerators else 1.0
        record.price_per_hour = choice.price_per_hour * part
        record.carbon_intensity = self.snapshot.pools[choice.pool_index].carbon_intensity
        full = self.sim.run_time(record.job, choice.accelerator)
        running = _Running(self.now, self.now + restore, full, choice.pool_index, choice.node_indices)
        self.running[index] = running
        heapq.heappush(self.ends, (running.progress_from + self.left[index] * full, index, self.version[index]))
        if self.profile.preemptive and self.share is None:  # (a round-based policy re-decides each round)
            request = self._request(index)
            after = self.order.key_changes_after(request)
            if not math.isinf(after):
                heapq.heappush(self.changes, (running.progress_from + after, index, self.version[index]))
        if is_gpu(choice.accelerator):
            self.busy += record.gpus_held

    def _stop(self, index: int, when: float) -> None:
        """It leaves its accelerators at ``when``: its service and cost are counted up to then."""
        running = self.running.pop(index)
        self.freed = True
        record = self.records[index]
        ran = max(0.0, when - running.progress_from)
        self.attained[index] += record.accelerators * ran
        held = when - running.placed_at
        self.received[index][record.accelerator] = self.received[index].get(record.accelerator, 0.0) + held
        record.held_s += held
        record.cost += record.price_per_hour * held / 3600
        record.accelerator_s += record.gpus_held * held
        if is_gpu(record.accelerator):
            self.busy -= record.gpus_held
        self.snapshot.undo([index])

    def _preempt(self, index: int) -> None:
        running = self.running[index]
        done = max(0.0, self.now - running.progress_from) / running.full_s if running.full_s > 0 else 1.0
        self.left[index] = max(0.0, self.left[index] - done)
        self._stop(index, self.now)
        self.version[index] += 1
        self.records[index].preemptions += 1
        # A round-based policy reads jobs as ShareJobs, not their requests' service so far.
        self.waiting[index] = self._request(index) if self.share is None else self.arrived_as[index]


def is_gpu(accelerator: str) -> bool:
    return accelerator != CPU and accelerator != ""


def _compress(timeline: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Keeps the last value at each moment and drops points that change nothing."""
    out: list[tuple[float, float]] = []
    for moment, value in timeline:
        if out and out[-1][0] == moment:
            out[-1] = (moment, value)
        elif not out or out[-1][1] != value:
            out.append((moment, value))
    return out
