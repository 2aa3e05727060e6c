"""EASY backfill: the first job that cannot start gets a reservation; later jobs may start now
only if they do not delay it.

The reservation is computed on a projection of the reserved pool: running work is released in
order of its expected end (start + time limit) until the reserved job fits; that moment is the
*shadow time*. A later job may use the reserved pool if it will end by the shadow time, or if
it fits in what the projection leaves after the reserved job's nodes (the *extra* slots). Work
without a time limit never ends in the projection, so it can only ever use extra slots.

The ``Reservation`` value itself lives in ``framework``, beside the cycle context and decisions
that carry it, so that this module depends on the framework and never the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from suanli.scheduler.framework import FITS, Candidate, CycleContext, FilterPlugin, FilterStatus, Reservation
from suanli.scheduler.request import Shape
from suanli.scheduler.snapshot import Allocation


def _nodes_fitting(free: Sequence[int], count: int, slots: int) -> list[int] | None:
    """The fullest nodes with ``slots`` free, or None when fewer than ``count`` have them."""
    fitting = [n for n, f in enumerate(free) if f >= slots]
    if len(fitting) < count:
        return None
    fitting.sort(key=lambda n: free[n])
    return fitting[:count]


def reserve(
    job_id: int, shape: Shape, candidates: Iterable[Candidate], allocations: Iterable[Allocation], now: float
) -> Reservation | None:
    """The reservation at the earliest shadow time over the job's candidate pools."""
    by_pool: dict[int, list[Allocation]] = {}
    for allocation in allocations:
        by_pool.setdefault(allocation.pool, []).append(allocation)
    best: Reservation | None = None
    for candidate in candidates:
        pool = candidate.pool
        projected = list(pool.free)
        start = now
        nodes = _nodes_fitting(projected, shape.nodes, candidate.slots)
        ending = sorted(
            by_pool.get(pool.index, ()), key=lambda a: math.inf if a.expected_end is None else a.expected_end
        )
        for allocation in ending:
            if nodes is not None:
                break
            for node in allocation.node_indices:
                projected[node] += allocation.slots
            start = math.inf if allocation.expected_end is None else max(now, allocation.expected_end)
            nodes = _nodes_fitting(projected, shape.nodes, candidate.slots)
        if nodes is None:
            continue  # even an empty pool would not hold it (the pool shrank under running work)
        if best is None or start < best.start:
            for node in nodes:
                projected[node] -= candidate.slots
            best = Reservation(job_id, pool, candidate.slots, tuple(nodes), start, projected)
    return best


class BackfillFilter(FilterPlugin):
    """Keeps later jobs off the capacity the reservation holds. Added when a profile enables backfill."""

    name = "backfill"
    dynamic = True

    def check(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        reservation = ctx.reservation
        if reservation is None or candidate.pool is not reservation.pool or reservation.ends_in_time(shape, ctx.now):
            return FITS
        if candidate.pool.choose_nodes(shape.nodes, candidate.slots, reservation.projected_free) is not None:
            return FITS
        return FilterStatus.unschedulable(f"would delay job {reservation.job_id}, which holds a reservation here")
