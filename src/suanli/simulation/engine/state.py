"""Where each job of a run stands: waiting or running (where, since when), how much of its work is
left and how much service it has had; the moves of one job (arrive, start, stop, preempt, end)
and the future events a start sets (its end, the moment its queue key changes)."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from suanli.scheduler.framework import Choice
from suanli.scheduler.request import SchedulingRequest
from suanli.scheduler.snapshot import Snapshot
from suanli.simulation.engine.accounting import Accounting

if TYPE_CHECKING:
    from suanli.simulation.engine.simulation import Simulation


@dataclass(slots=True)
class Running:
    """A job holding accelerators."""

    placed_at: float  # when it got its accelerators
    progress_from: float  # when its work resumes (after a restore following a preemption)
    full_s: float  # its whole run time on these accelerators
    pool: int  # its pool's index in the snapshot
    nodes: tuple[int, ...]  # node indices in that pool
    center: str
    pool_name: str
    accelerator: str
    accelerators: int  # held, over all its nodes


class JobStates:
    """The state the loop, the cycles, the rounds and preemption read, and move jobs through.

    Work is tracked as a fraction left, so a job moved to another model after a preemption runs
    at that model's speed. The live fleet (``snapshot``) holds what the running jobs hold.
    """

    def __init__(self, sim: Simulation, snapshot: Snapshot, accounting: Accounting) -> None:
        self.sim = sim
        self.accounting = accounting
        profile = sim.scheduler.profile
        self.order = sim.scheduler.queue_order
        self.oracle = profile.estimates == "oracle"
        self.round_based = bool(profile.time_share)  # a time-sharing policy decides in rounds
        # Preemption looks again when a running job's queue key changes (LAS crossing a threshold);
        # a round-based policy re-decides each round instead.
        self.watch_keys = profile.preemptive and not self.round_based
        self.restore_s = sim.requests.restore_s
        self.jobs = sim.workload.jobs
        self.snapshot = snapshot  # the live fleet
        self.now = 0.0
        self.arrived_as: dict[int, SchedulingRequest] = {}  # each active job's request as it arrived
        self.waiting: dict[int, SchedulingRequest] = {}
        self.running: dict[int, Running] = {}
        self.left = [1.0] * len(self.jobs)  # fraction of each job's work not done yet
        self.attained = [0.0] * len(self.jobs)  # accelerator-seconds received
        self.received: list[dict[str, float]] = [{} for _ in self.jobs]  # seconds held per model
        self.version = [0] * len(self.jobs)  # bumps on preemption: stale events are skipped
        self.ends: list[tuple[float, int, int]] = []  # heap of (end time, job, version)
        self.key_changes: list[tuple[float, int, int]] = []  # heap of (when its queue key changes, job, version)
        self.freed = False  # capacity was given back since the last cycle

    def request(self, index: int) -> SchedulingRequest:
        """The job's request with its service so far and, if the profile wants it, what it still needs."""
        base = self.arrived_as[index]
        expected = base.expected_s
        if self.oracle:
            expected = self.left[index] * self.jobs[index].duration_s
        attained = self.attained[index]
        running = self.running.get(index)
        if running is not None:
            attained += base.accelerators * max(0.0, self.now - running.progress_from)
        if attained == base.attained_s and expected == base.expected_s:
            return base
        return replace(base, attained_s=attained, expected_s=expected)

    # -- the moves of one job --------------------------------------------------------------------

    def arrive(self, index: int, request: SchedulingRequest) -> None:
        self.arrived_as[index] = request
        self.waiting[index] = self.request(index)

    def start(self, index: int, choice: Choice) -> None:
        """It runs from now on ``choice``'s nodes (after a restore, if it ran before)."""
        self.waiting.pop(index, None)
        restore = self.restore_s if self.left[index] < 1.0 else 0.0
        now = self.now
        full = self.sim.run_time(self.jobs[index], choice.accelerator)
        running = Running(
            now,
            now + restore,
            full,
            choice.pool_index,
            choice.node_indices,
            choice.center,
            choice.pool,
            choice.accelerator,
            choice.slots * len(choice.node_indices),
        )
        self.accounting.started(index, choice, self.snapshot.pools[choice.pool_index].carbon_intensity, now)
        self.running[index] = running
        heapq.heappush(self.ends, (running.progress_from + self.left[index] * full, index, self.version[index]))
        if self.watch_keys:
            after = self.order.key_changes_after(self.request(index))
            if not math.isinf(after):
                heapq.heappush(self.key_changes, (running.progress_from + after, index, self.version[index]))

    def stop(self, index: int, when: float) -> None:
        """It leaves its accelerators at ``when``: its service and cost are counted up to then."""
        running = self.running.pop(index)
        self.freed = True
        ran = max(0.0, when - running.progress_from)
        self.attained[index] += running.accelerators * ran
        held = when - running.placed_at
        self.received[index][running.accelerator] = self.received[index].get(running.accelerator, 0.0) + held
        self.accounting.stopped(index, held)
        self.snapshot.undo([index])

    def end(self, index: int, when: float) -> None:
        """Its work is done at ``when``."""
        self.stop(index, when)
        self.left[index] = 0.0
        self.accounting.ended(index, when)
        del self.arrived_as[index]

    def preempt(self, index: int) -> None:
        """It stops now with the work it has done kept, and waits again."""
        running = self.running[index]
        done = max(0.0, self.now - running.progress_from) / running.full_s if running.full_s > 0 else 1.0
        self.left[index] = max(0.0, self.left[index] - done)
        self.stop(index, self.now)
        self.version[index] += 1
        self.accounting.preempted(index)
        # A round-based policy reads jobs as ShareJobs, not their requests' service so far.
        self.waiting[index] = self.arrived_as[index] if self.round_based else self.request(index)

    # -- many jobs at once -----------------------------------------------------------------------

    def apply_plan(self, kept: set[int], fresh: Snapshot, chosen: dict[int, Choice]) -> None:
        """Running jobs not ``kept`` are preempted; ``fresh`` becomes the fleet; ``chosen`` start."""
        for index in list(self.running):
            if index not in kept:
                self.preempt(index)
        self.snapshot = fresh
        for index, choice in chosen.items():
            if index not in kept:
                self.start(index, choice)
