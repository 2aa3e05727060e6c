"""Preemption for preemptive queue orders (LAS, SRTF): when a waiting job comes to deserve a
running job's place, every active job is scheduled afresh; those that lose their place are preempted."""

from __future__ import annotations

import heapq

from suanli.scheduler.request import SchedulingRequest
from suanli.scheduler.snapshot import Snapshot
from suanli.simulation.engine.cycles import Cycles
from suanli.simulation.engine.state import JobStates


class Preemption:
    def __init__(self, states: JobStates, cycles: Cycles) -> None:
        self.states = states
        self.cycles = cycles
        self.order = states.order
        self.sim = states.sim

    def keys_due(self, now: float) -> bool:
        """Whether a running job's queue key changed by ``now`` (LAS crossing a threshold)."""
        states = self.states
        changes = states.key_changes
        changed = False
        while changes and changes[0][0] <= now:
            _, index, version = heapq.heappop(changes)
            changed |= version == states.version[index] and index in states.running
        return changed

    def after_cycle(self, arrived: list[int], key_changed: bool) -> None:
        """A waiting job can come to deserve a running job's place only by arriving (waiting jobs'
        keys do not move) or by a running job's key moving back: only then look again."""
        newcomer = any(index in self.states.waiting for index in arrived)
        if (key_changed or newcomer) and self._should_replan():
            self.replan()

    def _should_replan(self) -> bool:
        """Look again only when a waiting job comes before a running one."""
        states = self.states
        if not states.waiting or not states.running:
            return False
        first_waiting = min(self.order.key(request) for request in states.waiting.values())
        return any(self.order.key(states.request(index)) > first_waiting for index in states.running)

    def replan(self) -> None:
        """Schedules every active job afresh on an empty fleet, in queue order; running jobs that
        keep their place go on, the others are preempted (and may restart elsewhere)."""
        states = self.states
        running = states.running
        active: list[SchedulingRequest] = [states.request(index) for index in (*running, *states.waiting)]
        fresh = self.sim.fresh_snapshot()
        chosen = self.cycles.placements(fresh, active)
        # A running job the cycle puts back in its own pool keeps its nodes and goes on; the others
        # are placed again around those (a second pass, only if some kept job's nodes moved).
        kept = {i for i in running if (c := chosen.get(i)) is not None and c.pool_index == running[i].pool}
        if any(chosen[i].node_indices != running[i].nodes for i in kept):
            fresh = self._snapshot_holding(kept)
            chosen = self.cycles.placements(fresh, [r for r in active if r.job_id not in kept])
        states.apply_plan(kept, fresh, chosen)

    def _snapshot_holding(self, kept: set[int]) -> Snapshot:
        """An empty fleet but for what the ``kept`` running jobs hold, where they hold it."""
        held = []
        for index in kept:
            running = self.states.running[index]
            slots = running.accelerators // max(1, len(running.nodes))
            held.append((index, running.center, running.pool_name, running.nodes, slots, None))
        return Snapshot.build(self.sim.centers, held, self.sim.throughput)
