"""Built-in queue orders. Job ids grow with submission, so ordering by id is FIFO."""

from __future__ import annotations

import bisect
import math

from suanli.scheduler.framework import QueueOrderPlugin
from suanli.scheduler.request import SchedulingRequest


class FifoOrder(QueueOrderPlugin):
    name = "fifo"

    def key(self, request: SchedulingRequest) -> tuple[float, ...]:
        return (request.job_id,)


class PriorityOrder(QueueOrderPlugin):
    """Higher priority first; first come, first served within a priority."""

    name = "priority"

    def key(self, request: SchedulingRequest) -> tuple[float, ...]:
        return (-request.priority, request.job_id)


class ShortestFirst(QueueOrderPlugin):
    """Least expected service first: expected remaining seconds x accelerators (SJF, SRTF, and
    QSSF when the expectation comes from history). Jobs without an estimate go last, in FIFO order."""

    name = "shortest-first"

    def key(self, request: SchedulingRequest) -> tuple[float, ...]:
        expected = request.expected_s
        return (math.inf if expected is None else expected * max(1, request.accelerators), request.job_id)


class LeastAttainedService(QueueOrderPlugin):
    """Tiresias' discretized two-dimensional LAS: a job's attained service is accelerators x time
    it has run; jobs fall into queues by thresholds on it (in accelerator-hours), the lower queue
    first and FIFO within a queue, so a long job cannot starve short ones and jobs of one queue do
    not preempt each other back and forth (Gu et al., NSDI'19)."""

    name = "las"
    thresholds_h: tuple[float, ...] = (1.0, 10.0, 100.0)

    def __init__(self) -> None:
        self.bounds = [h * 3600 for h in self.thresholds_h]  # accelerator-seconds

    def key(self, request: SchedulingRequest) -> tuple[float, ...]:
        return (bisect.bisect_right(self.bounds, request.attained_s), request.job_id)

    def key_changes_after(self, request: SchedulingRequest) -> float:
        queue = bisect.bisect_right(self.bounds, request.attained_s)
        if queue >= len(self.bounds):
            return math.inf
        return (self.bounds[queue] - request.attained_s) / max(1, request.accelerators)
