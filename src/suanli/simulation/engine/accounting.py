"""The run's measurements: each job's record (when, where, at what cost), the accelerators busy
over time, the time spent in the scheduler, and how many jobs are done (the progress bar)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from suanli.domain.accelerators import CPU
from suanli.scheduler.framework import Choice
from suanli.simulation.engine.results import JobRecord
from suanli.simulation.workload import TraceJob

Progress = Callable[[int, int], None]  # (jobs finished, jobs in the workload)


class Accounting:
    """Written to as jobs start, stop and end; read at the end of the run. It decides nothing."""

    def __init__(
        self,
        jobs: Sequence[TraceJob],
        ideal_time: Callable[[TraceJob], float],
        capacity: int,
        progress: Progress | None,
    ) -> None:
        self.records = [JobRecord(job, job.submit_s, ideal_s=ideal_time(job)) for job in jobs]
        self.capacity = capacity  # accelerators in the fleet (CPU cores not counted)
        self.progress = progress
        self.busy = 0.0  # accelerators held now (a shared GPU by its share)
        self.timeline: list[tuple[float, float]] = [(0.0, 0.0)]
        self.cycles = 0
        self.decision_s = 0.0
        self.cycle_times: list[float] = []
        self.finished = 0

    # -- jobs ------------------------------------------------------------------------------------

    def started(self, index: int, choice: Choice, carbon_intensity: float, now: float) -> None:
        """It got ``choice``'s accelerators at ``now`` (a first start, or a restart after a preemption)."""
        record = self.records[index]
        if record.start_s is None:
            record.start_s = now
            if math.isinf(record.job.duration_s):
                self.settled(1)  # it runs from now on and never ends (FGD's measure)
        record.center, record.pool, record.accelerator = choice.center, choice.pool, choice.accelerator
        record.nodes = choice.node_indices
        record.accelerators = choice.slots * len(choice.node_indices)
        # A job sharing a GPU holds (and pays for) its share of it.
        record.gpus_held = choice.demand.share * len(choice.node_indices) if choice.demand else record.accelerators
        part = record.gpus_held / record.accelerators if record.accelerators else 1.0
        record.price_per_hour = choice.price_per_hour * part
        record.carbon_intensity = carbon_intensity
        if is_gpu(choice.accelerator):
            self.busy += record.gpus_held

    def stopped(self, index: int, held_s: float) -> None:
        """It gave its accelerators back after holding them ``held_s`` seconds: count that run's cost."""
        record = self.records[index]
        record.held_s += held_s
        record.cost += record.price_per_hour * held_s / 3600
        record.accelerator_s += record.gpus_held * held_s
        if is_gpu(record.accelerator):
            self.busy -= record.gpus_held

    def preempted(self, index: int) -> None:
        self.records[index].preemptions += 1

    def ended(self, index: int, end: float) -> None:
        self.records[index].end_s = end

    def settled(self, count: int) -> None:
        """``count`` more jobs will do nothing more: they ended, or started never to end."""
        self.finished += count
        if self.progress is not None:
            self.progress(self.finished, len(self.records))

    # -- the fleet and the scheduler -------------------------------------------------------------

    def mark(self, now: float) -> None:
        """The accelerators busy from ``now`` on (a step of the utilization curve)."""
        self.timeline.append((now, self.busy))

    def cycle_took(self, spent: float) -> None:
        """One scheduler cycle took ``spent`` wall seconds."""
        self.decision_s += spent
        self.cycle_times.append(spent)
        self.cycles += 1


def is_gpu(accelerator: str) -> bool:
    return accelerator != CPU and accelerator != ""
