"""Runs scheduling cycles against the store and explains decisions.

Two caches keep a cycle's cost proportional to the pending queue, not to the fleet or history:

- scheduling requests by job id (a spec never changes), so a cycle reads only the ids,
  versions and priorities of the backlog;
- the working snapshot (free slots per node, held allocations), which each cycle updates with
  its own placements. It is rebuilt from the store when the store's capacity fingerprint moves
  (a center changed, or a job released capacity, in any process: checked every cycle with one
  small query), when this process says so (``invalidate``), and every ``refresh_s`` as a
  safety net. Between rebuilds it can only overstate what is held, never understate it: a
  stale snapshot delays the use of freed capacity but never over-commits a pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.errors import NotFound, StaleVersion, describe_error
from suanli.domain.job import Job, Placement
from suanli.domain.job_status import JobStatus
from suanli.domain.jobs import JobSpec
from suanli.domain.stored_specs import UncheckedJobSpec
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.framework import Choice
from suanli.scheduler.request import SchedulingRequest
from suanli.scheduler.snapshot import Snapshot
from suanli.services.clock import Clock
from suanli.services.ports import CycleRecord, PlacementWrite, Store

log = logging.getLogger("suanli.scheduler")
_RERUNS = 3  # cycles run again at once when decisions raised, each without the jobs that did


class SchedulingService:
    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        catalog: AcceleratorCatalog,
        clock: Clock,
        holder: str,
        refresh_s: float = 300.0,
        on_placed: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.holder = holder
        self.throughput = {model.name: model.throughput for model in catalog}
        self.refresh_s = refresh_s
        self.on_placed = on_placed  # wakes agents' long polls in this process
        self._requests: dict[int, SchedulingRequest] = {}
        self._working: Snapshot | None = None
        self._working_since = 0.0
        self._centers_mark: tuple[object, ...] = ()
        self.last_reservation = ""

    def invalidate(self) -> None:
        """Capacity may have been freed or changed: rebuild the snapshot before the next cycle."""
        self._working = None

    def snapshot(self) -> Snapshot:
        """A fresh snapshot from the store, for reading or what-if use."""
        allocations = [
            (
                p.job_id,
                p.center,
                p.pool,
                p.node_indices,
                p.slots,
                p.since.timestamp() + p.time_limit if p.time_limit is not None else None,
            )
            for p in self.store.active_placements()
        ]
        return Snapshot.build(self.store.list_centers(), allocations, self.throughput)

    def _working_snapshot(self) -> Snapshot:
        mark = self.store.capacity_fingerprint()
        stale = time.monotonic() - self._working_since > self.refresh_s or mark != self._centers_mark
        if self._working is None or stale:
            self._working = self.snapshot()
            self._working_since = time.monotonic()
            self._centers_mark = mark
        return self._working

    def _queue(self) -> tuple[list[SchedulingRequest], dict[int, int], dict[int, str]]:
        """The requests of the backlog, their versions, and the jobs whose request cannot be
        built (a spec stored under older limits), with why."""
        pending = self.store.pending_jobs(known=frozenset(self._requests))
        requests: dict[int, SchedulingRequest] = {}
        unbuildable: dict[int, str] = {}
        for job in pending:
            cached = self._requests.get(job.id)
            if cached is None:
                assert job.spec is not None, "the store loads specs the cache lacks"
                built = build_request(job.id, job.spec, job.tenant_id)
                if isinstance(built, str):  # a poison job fails alone; it never stops the cycle
                    unbuildable[job.id] = built
                    continue
                cached = built
            requests[job.id] = cached
        self._requests = requests  # jobs that left the queue leave the cache
        return list(requests.values()), {job.id: job.version for job in pending}, unbuildable

    def run_cycle(self) -> CycleRecord:
        started = time.perf_counter()
        now = self.clock.now()
        queue, versions, failing = self._queue()
        snapshot = self._working_snapshot()
        result = self.scheduler.run_cycle(snapshot, queue, now.timestamp(), explain_waiting=False)
        for _ in range(_RERUNS):
            if not result.errors:
                break
            # A decision that raised may have left the working copy half-changed: the others are
            # decided again at once, without those jobs, on a fresh snapshot.
            log.error("the scheduler failed on %d job(s), which fail alone: %s", len(result.errors), result.errors[0])
            failing |= {d.job_id: d.error for d in result.errors}
            queue = [request for request in queue if request.job_id not in failing]
            self.invalidate()
            snapshot = self._working_snapshot()
            result = self.scheduler.run_cycle(snapshot, queue, now.timestamp(), explain_waiting=False)
        if result.errors:  # still failing: decided again next cycle, on a fresh snapshot
            self.invalidate()
        if failing:
            self._fail(failing, versions)
        writes = [
            PlacementWrite(d.job_id, versions[d.job_id], _placement(d.choice))
            for d in result.decisions
            if d.choice is not None
        ]
        written = self.store.apply_placements(writes, now) if writes else []
        if len(written) < len(writes):  # cancelled or changed meanwhile: their capacity is free
            done = set(written)
            snapshot.undo(w.job_id for w in writes if w.job_id not in done)
        self.last_reservation = result.reservation.describe() if result.reservation else ""
        record = CycleRecord(
            holder=self.holder,
            started_at=now,
            placed=len(written),
            waiting=len(versions) - len(writes) - len(failing),
            duration_ms=(time.perf_counter() - started) * 1000,
            reservation=self.last_reservation,
        )
        if written:
            if self.on_placed is not None:
                self.on_placed()
            self.store.record_cycle(record)
        return record

    def _fail(self, failing: dict[int, str], versions: dict[int, int]) -> None:
        """Fails each job the scheduler cannot consider, with the reason; one that moved meanwhile
        (cancelled) is left to its new state."""
        now = self.clock.now()
        for job_id, reason in failing.items():
            self._requests.pop(job_id, None)
            try:
                job = self.store.get_job(job_id)
                if job.version != versions.get(job_id) or job.status is not JobStatus.PENDING:
                    continue
                message = f"the scheduler cannot consider this job: {reason}"
                self.store.save_job(job.transitioned(JobStatus.FAILED, now, message=message), job.version)
            except (StaleVersion, NotFound):
                continue
            log.warning("job %d failed before it could be scheduled: %s", job_id, reason)

    def explain(self, job: Job) -> list[str]:
        """Why a job is where it is. A waiting job is tried afresh against current capacity."""
        if job.status is JobStatus.PENDING:
            request = build_request(job.id, job.spec, job.tenant_id)
            if isinstance(request, str):
                return [f"the scheduler cannot consider this job: {request}"]
            decision = self.scheduler.run_cycle(self.snapshot(), [request], self.clock.now().timestamp()).decisions[0]
            if decision.choice is not None:
                lines = [
                    "waiting for the next scheduling cycle, or behind jobs ahead of it in the queue; "
                    f"it would fit now: {decision.choice.reason()}"
                ]
            else:
                # Alone in its trial queue the job would hold the reservation itself; what counts
                # is the reservation of the last real cycle, added below.
                decision.reservation = None
                lines = decision.explain()
            if self.last_reservation:
                lines.append(self.last_reservation)
            return lines
        lines = [job.message] if job.message else []
        if job.placement is not None and job.placement.reason:
            lines.append(job.placement.reason)
        return lines


def build_request(job_id: int, spec: JobSpec, tenant_id: str) -> SchedulingRequest | str:
    """The job's scheduling request, or why it cannot be built (a spec stored under older limits)."""
    if isinstance(spec, UncheckedJobSpec):
        return spec.problem
    try:
        return SchedulingRequest.from_spec(job_id, spec, tenant_id)
    except Exception as error:
        return describe_error(error)


def _placement(choice: Choice) -> Placement:
    return Placement(
        center=choice.center,
        pool=choice.pool,
        accelerator=choice.accelerator,
        accelerators_per_node=choice.slots,
        node_indices=choice.node_indices,
        price_per_hour=choice.price_per_hour,
        reason=choice.reason(),
    )
