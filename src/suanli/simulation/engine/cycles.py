"""Scheduler cycles: the timed call to ``Scheduler.run_cycle`` that every placement goes through,
and the cycle after each moment's events, on the waiting jobs that could start."""

from __future__ import annotations

import time

from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.framework import Choice
from suanli.scheduler.request import SchedulingRequest
from suanli.scheduler.snapshot import Snapshot
from suanli.simulation.engine.accounting import Accounting
from suanli.simulation.engine.state import JobStates


class Cycles:
    def __init__(self, scheduler: Scheduler, states: JobStates, accounting: Accounting, epoch_s: float) -> None:
        self.scheduler = scheduler
        self.states = states
        self.accounting = accounting
        self.epoch_s = epoch_s  # the trace's clock at the run's zero (dates in the trace)
        self.backfill = scheduler.profile.backfill

    def placements(self, snapshot: Snapshot, queue: list[SchedulingRequest]) -> dict[int, Choice]:
        """Where a cycle on ``snapshot`` places the jobs of ``queue`` (nothing starts yet)."""
        tick = time.perf_counter()
        result = self.scheduler.run_cycle(snapshot, queue, self.states.now + self.epoch_s, explain_waiting=False)
        self.accounting.cycle_took(time.perf_counter() - tick)
        return {d.job_id: d.choice for d in result.placed if d.choice is not None}

    def place_waiting(self, arrived: list[int]) -> None:
        """A cycle on what is free now; whatever it places starts."""
        states = self.states
        for index, choice in self.placements(states.snapshot, self.worth_trying(arrived)).items():
            states.start(index, choice)

    def worth_trying(self, arrived: list[int]) -> list[SchedulingRequest]:
        """The waiting jobs a cycle could place now. Without backfill, a job that did not fit in
        the last cycle cannot fit while nothing has given capacity back since (placements only
        take), so only the newcomers can start; the cycle's decisions are the same either way."""
        states = self.states
        freed, states.freed = states.freed, False
        if freed or self.backfill:  # a reservation depends on every waiting job
            return list(states.waiting.values())
        return [states.waiting[index] for index in arrived if index in states.waiting]

    def explain_waiting(self) -> None:
        """Asks the scheduler once why the jobs still waiting never start (nothing runs or comes)."""
        states = self.states
        explained = self.scheduler.run_cycle(states.snapshot, list(states.waiting.values()), states.now + self.epoch_s)
        for decision in explained.decisions:
            self.accounting.records[decision.job_id].why_not = "; ".join(decision.explain())
