"""The event loop: a virtual clock that jumps from one moment to the next (arrivals, ends, queue-key
changes, round boundaries), applies that moment's events, then runs one cycle or round."""

from __future__ import annotations

import heapq
import math
from dataclasses import replace
from typing import TYPE_CHECKING

from suanli.domain.accelerators import CPU
from suanli.simulation.engine.accounting import Accounting, Progress
from suanli.simulation.engine.cycles import Cycles
from suanli.simulation.engine.preemption import Preemption
from suanli.simulation.engine.rounds import TimeSharingRounds
from suanli.simulation.engine.state import JobStates

if TYPE_CHECKING:
    from suanli.simulation.engine.simulation import Simulation


class EventLoop:
    """One run of a simulation, wired from its parts: the jobs' states, the accounting, the
    scheduler's cycles, and, as the profile asks, time-sharing rounds or preemption."""

    def __init__(self, sim: Simulation, progress: Progress | None) -> None:
        self.sim = sim
        profile = sim.scheduler.profile
        self.profile = profile
        self.jobs = sim.workload.jobs
        snapshot = sim.fresh_snapshot()
        capacity = sum(p.total for p in snapshot.pools if p.accelerator != CPU)
        self.accounting = Accounting(self.jobs, sim.ideal_time, capacity, progress)
        self.states = JobStates(sim, snapshot, self.accounting)
        self.cycles = Cycles(sim.scheduler, self.states, self.accounting, sim.workload.epoch_s or 0.0)
        self.rounds: TimeSharingRounds | None = None
        self.preemption: Preemption | None = None
        if profile.time_share:  # (a round-based profile preempts in its rounds; queue keys play no part)
            self.rounds = TimeSharingRounds(profile, self.states, self.cycles, self.accounting)
        elif profile.preemptive:
            self.preemption = Preemption(self.states, self.cycles)
        self.history: dict[str, tuple[float, int]] = {}  # group -> (sum of durations, finished jobs)

    def run(self) -> None:
        jobs, states, rounds, preemption = self.jobs, self.states, self.rounds, self.preemption
        next_arrival = 0
        while next_arrival < len(jobs) or states.ends or states.waiting:
            upcoming = min(
                jobs[next_arrival].submit_s if next_arrival < len(jobs) else math.inf,
                states.ends[0][0] if states.ends else math.inf,
                states.key_changes[0][0] if states.key_changes else math.inf,
                rounds.next_round if rounds is not None and (states.waiting or states.running) else math.inf,
            )
            if math.isinf(upcoming):
                break  # jobs wait that nothing running or arriving will ever make room for
            states.now = now = self.sim.tick(upcoming)
            self._end_due(now)
            arrived = []
            while next_arrival < len(jobs) and jobs[next_arrival].submit_s <= now:
                self._arrive(next_arrival)
                arrived.append(next_arrival)
                next_arrival += 1
            key_changed = preemption.keys_due(now) if preemption is not None else False
            if rounds is not None:  # time sharing: the round decides, nothing starts in between
                if rounds.due(now) and not rounds.play() and not states.running and next_arrival >= len(jobs):
                    break  # what waits can never be placed
            elif states.waiting:
                self.cycles.place_waiting(arrived)
                if preemption is not None:
                    preemption.after_cycle(arrived, key_changed)
            self.accounting.mark(now)
        if states.waiting:  # nothing runs and nothing comes: ask the scheduler once why these never start
            self.cycles.explain_waiting()

    def _end_due(self, now: float) -> None:
        states = self.states
        ends = states.ends
        done = 0
        while ends and ends[0][0] <= now:
            end, index, version = heapq.heappop(ends)
            if version != states.version[index]:
                continue  # it was preempted after this end was planned
            states.end(index, end)
            job = self.jobs[index]
            total, count = self.history.get(job.group, (0.0, 0))
            self.history[job.group] = (total + job.duration_s, count + 1)
            done += 1
        if done:
            self.accounting.settled(done)

    def _arrive(self, index: int) -> None:
        request = self.sim.request_for(index, self.jobs[index])
        if self.profile.estimates == "history":  # QSSF: predicted once, from what ended before it came
            total, count = self.history.get(self.jobs[index].group, (0.0, 0))
            request = replace(request, expected_s=total / count if count else None)
        self.states.arrive(index, request)
