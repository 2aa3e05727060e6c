"""Time-sharing rounds (Gavel-style profiles): each round the policy picks who runs on which
model, and the scheduler places the chosen in that order around the jobs that stay where they are."""

from __future__ import annotations

import math
from dataclasses import replace

from suanli.domain.accelerators import CPU
from suanli.scheduler.registry import Profile
from suanli.scheduler.request import SchedulingRequest, Shape
from suanli.scheduler.timeshare import Allocation, ShareJob, TimeSharePolicy, time_share_policy
from suanli.simulation.engine.accounting import Accounting
from suanli.simulation.engine.cycles import Cycles
from suanli.simulation.engine.state import JobStates


class TimeSharingRounds:
    def __init__(self, profile: Profile, states: JobStates, cycles: Cycles, accounting: Accounting) -> None:
        self.profile = profile
        self.policy: TimeSharePolicy = time_share_policy(profile.time_share)
        self.states = states
        self.cycles = cycles
        self.accounting = accounting
        self.sim = states.sim
        self.capacity: dict[str, int] = {}  # accelerators per model
        for pool in states.snapshot.pools:
            if pool.accelerator != CPU:
                self.capacity[pool.accelerator] = self.capacity.get(pool.accelerator, 0) + pool.total
        # A job's speed per model when the trace measured none: the catalog's relative factors.
        self.catalog_speeds = {m: self.sim.catalog.throughput(m) for m in self.capacity}
        self.allocation: Allocation = {}
        self.allocated_for: frozenset[int] = frozenset()
        self.on_model: dict[tuple[int, str], Shape] = {}  # a job's shape narrowed to one model
        self.next_round = 0.0

    def due(self, now: float) -> bool:
        """Whether a round starts at ``now``; if so, the next one is set a round later."""
        if now < self.next_round:
            return False
        self.next_round = (math.floor(now / self.profile.round_s) + 1) * self.profile.round_s
        return True

    def play(self) -> bool:
        """One round: the policy picks who runs on which model; the scheduler places them in that
        order on the fleet as the jobs it keeps running leave it. True if anything runs."""
        states = self.states
        running = states.running
        active = [*running, *states.waiting]
        share_jobs = [self._share_job(index) for index in active]
        if len(active) != len(self.allocated_for) or not self.allocated_for.issuperset(active):
            # The shares change only with the set of jobs.
            self.allocation = self.policy.allocate(share_jobs, self.capacity)
            self.allocated_for = frozenset(active)
        chosen = self.policy.assign(share_jobs, self.allocation, self.capacity)
        # A running job given its own model again keeps its accelerators: no preemption.
        kept = {i for i, model in chosen if i in running and running[i].accelerator == model}
        if len(kept) == len(chosen) == len(running):
            return bool(running)  # the same jobs go on where they are: nothing to place
        requests = []
        for rank, (index, model) in enumerate(chosen):
            if index in kept:
                continue
            shape = self.on_model.get((index, model))
            if shape is None:
                base = states.arrived_as[index].shape
                alternatives = tuple(a for a in base.alternatives if a[0] == model)
                shape = self.on_model[(index, model)] = replace(base, alternatives=alternatives)
            requests.append(SchedulingRequest(index, len(chosen) - rank, shape, states.arrived_as[index].tenant_id))
        # The live fleet less what the jobs about to be preempted hold is the fleet holding only
        # the kept jobs (their preemption gives it back again, which changes nothing then).
        fresh = states.snapshot
        fresh.undo([index for index in running if index not in kept])
        placed = self.cycles.placements(fresh, requests)
        states.apply_plan(kept, fresh, placed)
        return bool(states.running)

    def _share_job(self, index: int) -> ShareJob:
        """The job as the time-sharing policy sees it this round (``received`` may be the run's own
        record of it: the policy reads it within the round, before anything changes it)."""
        states = self.states
        now = states.now
        job = states.jobs[index]
        received = states.received[index]
        running = states.running.get(index)
        if running is not None:
            received = dict(received)
            received[running.accelerator] = received.get(running.accelerator, 0.0) + now - running.placed_at
        remaining, ideal = None, 0.0
        if states.oracle and self.policy.wants_remaining:
            # The trace's true run times, for a policy that reads what jobs still need.
            left = states.left[index]
            if running is not None and running.full_s > 0:
                left = max(0.0, left - max(0.0, now - running.progress_from) / running.full_s)
            remaining = {m: left * self.sim.run_time(job, m) for m in self.capacity}
            ideal = self.accounting.records[index].ideal_s
        return ShareJob(
            index,
            states.arrived_as[index].accelerators,
            job.throughputs or self.catalog_speeds,
            received,
            now - job.submit_s,
            remaining,
            ideal,
            running.accelerator if running is not None else "",
        )
