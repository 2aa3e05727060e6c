"""Built-in queue orders. Job ids grow with submission, so ordering by id is FIFO."""

from __future__ import annotations

from collections.abc import Sequence

from suanli.scheduler.framework import QueueOrderPlugin
from suanli.scheduler.registry import register_queue_order
from suanli.scheduler.request import SchedulingRequest


@register_queue_order
class FifoOrder(QueueOrderPlugin):
    name = "fifo"

    def order(self, queue: Sequence[SchedulingRequest]) -> list[SchedulingRequest]:
        return sorted(queue, key=lambda r: r.job_id)


@register_queue_order
class PriorityOrder(QueueOrderPlugin):
    """Higher priority first; first come, first served within a priority."""

    name = "priority"

    def order(self, queue: Sequence[SchedulingRequest]) -> list[SchedulingRequest]:
        return sorted(queue, key=lambda r: (-r.priority, r.job_id))
