"""Built-in filters: center state, the job's constraints, and fit (capacity, gangs, alternatives)."""

from __future__ import annotations

from datetime import UTC, datetime

from suanli.domain.accelerators import CPU
from suanli.domain.durations import format_duration
from suanli.scheduler.framework import FITS, Candidate, CycleContext, FilterPlugin, FilterStatus
from suanli.scheduler.request import Shape
from suanli.scheduler.sharing import WHOLE, demand_of


def _unit(accelerator: str) -> str:
    return "CPU cores" if accelerator == CPU else f"x {accelerator}"


def _no(reason: str) -> FilterStatus:
    """The candidate cannot take the job, and why."""
    return FilterStatus.unschedulable(reason)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


class CenterStateFilter(FilterPlugin):
    """No new work goes to a DRAINING, OFFLINE or UNHEALTHY (backend down) center."""

    name = "center-state"

    def check_static(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        state = candidate.pool.center_state
        return FITS if state == "ONLINE" else _no(f"center is {state} and takes no new work")


class ConstraintsFilter(FilterPlugin):
    """Regions, center kinds, named centers, a price ceiling and a deadline."""

    name = "constraints"

    def check_static(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        pool = candidate.pool
        if shape.centers and pool.center not in shape.centers:
            return _no(f"not among the requested centers ({', '.join(sorted(shape.centers))})")
        if shape.regions and pool.region not in shape.regions:
            return _no(f"region {pool.region} is not among {', '.join(sorted(shape.regions))}")
        if shape.center_kinds and pool.center_kind not in shape.center_kinds:
            return _no(f"center kind {pool.center_kind} is not among {', '.join(sorted(shape.center_kinds))}")
        if shape.max_price_per_hour is not None:
            price = candidate.price_per_hour(shape.nodes)
            if price > shape.max_price_per_hour + 1e-9:
                return _no(f"costs {price:.2f} CNY/h, above the limit of {shape.max_price_per_hour:.2f}")
        if shape.deadline is not None:
            if ctx.now > shape.deadline:
                return _no(f"the deadline {_when(shape.deadline)} has passed")
            if shape.time_limit is not None and ctx.now + shape.time_limit > shape.deadline:
                return _no(
                    f"a run of up to {format_duration(shape.time_limit)} started now "
                    f"could end after the deadline {_when(shape.deadline)}"
                )
        return FITS


class FitFilter(FilterPlugin):
    """The job's nodes fit the pool's node shape and are free now, all of them (gang)."""

    name = "fit"
    dynamic = True
    monotonic = True

    def check_static(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        pool, slots = candidate.pool, candidate.slots
        unit = _unit(pool.accelerator)
        if slots > pool.per_node:
            return _no(f"needs {slots} {unit} per node; its nodes have {pool.per_node}")
        if shape.nodes > pool.nodes:
            return _no(f"needs {shape.nodes} nodes; the pool has {pool.nodes}")
        if pool.shared is None and shape.gpu_milli < WHOLE:
            return _no(f"asks for {shape.gpu_milli / WHOLE:g} of a GPU; this pool does not share GPUs (share_gpus)")
        if pool.shared is None and slots == 0:
            return _no("uses no accelerators; this pool lends its nodes' CPUs only to jobs with accelerators")
        if pool.accelerator != CPU and shape.cpus > pool.cpus_per_node:
            return _no(f"needs {shape.cpus} CPUs per node; its nodes have {pool.cpus_per_node}")
        if shape.memory_gb > pool.memory_gb_per_node:
            return _no(f"needs {shape.memory_gb:g} GB memory per node; its nodes have {pool.memory_gb_per_node:g}")
        return FITS

    def check(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        # The hot path of every cycle: cheapest test first, words only on failure.
        pool, slots, nodes = candidate.pool, candidate.slots, shape.nodes
        if pool.shared is not None:
            demand = demand_of(shape, slots)
            have = int(pool.shared.fits(demand).sum())
            if have >= nodes:
                return FITS
            return _no(f"needs {nodes} node(s) with {demand.describe()} free, {have} have")
        if pool.free_total < slots * nodes:
            return _no(f"needs {slots * nodes} {_unit(pool.accelerator)}, {pool.free_total} free")
        if nodes == 1:
            if pool.buckets[slots] or (best := pool.max_free_on_a_node()) >= slots:
                return FITS
            return _no(f"needs {slots} {_unit(pool.accelerator)} on one node, at most {best} free on any node")
        have = pool.nodes_with(slots)
        if have >= nodes:
            return FITS
        return _no(f"needs {nodes} nodes with {slots} {_unit(pool.accelerator)} free each, {have} have")
