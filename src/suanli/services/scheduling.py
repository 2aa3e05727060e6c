"""Runs scheduling cycles against the store and explains decisions.

The pending queue's scheduling requests are cached by job id (a spec never changes), so a cycle
reads only ids, versions and priorities of the backlog, and the history is never loaded.

Held capacity (the placements of active jobs) is cached too, and the leader adds what it places.
The cache is reloaded when capacity may have been freed or changed (``invalidate``: a cancellation
or a center update in this process) and at least every ``refresh_s`` for changes made by other
processes. Between reloads the cache can only overstate what is held, never understate it, so
a stale cache delays the use of freed capacity but never over-commits a pool.
"""

from __future__ import annotations

import time

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.job import Job, Placement
from suanli.domain.job_status import JobStatus
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.request import SchedulingRequest
from suanli.scheduler.snapshot import Snapshot
from suanli.services.clock import Clock
from suanli.services.ports import CycleRecord, PlacementWrite, Store

# (job id, center, pool, node indices, slots per node, expected end) as Snapshot.build takes it
Held = tuple[int, str, str, tuple[int, ...], int, float | None]


class SchedulingService:
    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        catalog: AcceleratorCatalog,
        clock: Clock,
        holder: str,
        refresh_s: float = 5.0,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.holder = holder
        self.throughput = {model.name: model.throughput for model in catalog}
        self.refresh_s = refresh_s
        self._requests: dict[int, SchedulingRequest] = {}
        self._held: dict[int, Held] | None = None
        self._held_loaded_at = 0.0
        self.last_reservation = ""

    def invalidate(self) -> None:
        """Capacity may have been freed or changed: reload held capacity before the next cycle."""
        self._held = None

    def _held_capacity(self) -> dict[int, Held]:
        if self._held is None or time.monotonic() - self._held_loaded_at > self.refresh_s:
            self._held = {
                p.job_id: (
                    p.job_id,
                    p.center,
                    p.pool,
                    p.node_indices,
                    p.slots,
                    p.since.timestamp() + p.time_limit if p.time_limit is not None else None,
                )
                for p in self.store.active_placements()
            }
            self._held_loaded_at = time.monotonic()
        return self._held

    def snapshot(self) -> Snapshot:
        return Snapshot.build(self.store.list_centers(), self._held_capacity().values(), self.throughput)

    def run_cycle(self) -> CycleRecord:
        started = time.perf_counter()
        now = self.clock.now()
        pending = self.store.pending_jobs(known=frozenset(self._requests))
        requests: dict[int, SchedulingRequest] = {}
        for job in pending:
            cached = self._requests.get(job.id)
            if cached is None:
                assert job.spec is not None, "the store loads specs the cache lacks"
                cached = SchedulingRequest.from_spec(job.id, job.spec, job.tenant_id)
            requests[job.id] = cached
        self._requests = requests  # jobs that left the queue leave the cache
        versions = {job.id: job.version for job in pending}
        result = self.scheduler.run_cycle(self.snapshot(), requests.values(), now.timestamp())
        writes = [
            PlacementWrite(
                d.job_id,
                versions[d.job_id],
                Placement(
                    center=c.center,
                    pool=c.pool,
                    accelerator=c.accelerator,
                    accelerators_per_node=c.slots,
                    node_indices=c.node_indices,
                    price_per_hour=c.price_per_hour,
                    reason=c.reason(),
                ),
            )
            for d in result.decisions
            if (c := d.choice) is not None
        ]
        written = self.store.apply_placements(writes, now) if writes else []
        held = self._held_capacity()
        by_id = {w.job_id: w for w in writes}
        limits = {d.job_id: self._requests[d.job_id].shape.time_limit for d in result.decisions if d.choice}
        for job_id in written:
            p = by_id[job_id].placement
            limit = limits[job_id]
            end = now.timestamp() + limit if limit is not None else None
            held[job_id] = (job_id, p.center, p.pool, p.node_indices, p.accelerators_per_node, end)
        self.last_reservation = result.reservation.describe() if result.reservation else ""
        record = CycleRecord(
            holder=self.holder,
            started_at=now,
            placed=len(written),
            waiting=len(result.decisions) - len(writes),
            duration_ms=(time.perf_counter() - started) * 1000,
            reservation=self.last_reservation,
        )
        if written:
            self.store.record_cycle(record)
        return record

    def explain(self, job: Job) -> list[str]:
        """Why a job is where it is. A waiting job is tried afresh against current capacity."""
        if job.status is JobStatus.PENDING:
            request = SchedulingRequest.from_spec(job.id, job.spec, job.tenant_id)
            decision = self.scheduler.run_cycle(self.snapshot(), [request], self.clock.now().timestamp()).decisions[0]
            if decision.choice is not None:
                lines = [
                    "waiting for the next scheduling cycle, or behind jobs ahead of it in the queue; "
                    f"it would fit now: {decision.choice.reason()}"
                ]
            else:
                lines = decision.explain()
            if self.last_reservation:
                lines.append(self.last_reservation)
            return lines
        lines = [f"{job.status}" + (f": {job.message}" if job.message else "")]
        if job.placement is not None and job.placement.reason:
            lines.append(job.placement.reason)
        return lines
