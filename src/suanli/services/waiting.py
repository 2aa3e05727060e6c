"""Why jobs wait, in one line each (for job lists), and whether a new job could ever fit any
registered pool (checked at submission).

Both ask the real scheduler, never a second set of rules: a waiting job is tried against current
capacity, a new one against every registered pool as if the network were empty and healthy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from suanli.domain.centers import AgentPresence, Center, CenterState
from suanli.domain.job import Job
from suanli.domain.job_status import JobStatus
from suanli.domain.jobs import JobSpec
from suanli.scheduler.framework import Decision
from suanli.scheduler.request import SchedulingRequest
from suanli.scheduler.snapshot import Snapshot
from suanli.services.clock import Clock
from suanli.services.ports import Store
from suanli.services.scheduling import SchedulingService, build_request

_FIT_CACHE_S = 5.0  # how long "could this shape ever fit" answers are kept without a center change
# How long the capacity that waiting jobs are tried against is reused: reading it costs a read of
# every active placement (about half a second with 50,000 of them), and a one-line reason may
# lag placements by this much. A released job or a changed center rebuilds it at once.
_TRIAL_SNAPSHOT_S = 2.0


class WaitingReasons:
    def __init__(self, scheduling: SchedulingService, store: Store, clock: Clock, offline_after_s: float) -> None:
        self.scheduling = scheduling
        self.store = store
        self.clock = clock
        self.offline_after_s = offline_after_s
        self._fits: dict[tuple[object, ...], str] = {}
        self._fits_since = 0.0
        self._trial_lock = threading.Lock()  # one trial at a time on the shared snapshot
        self._trial: Snapshot | None = None
        self._trial_since = 0.0
        self._trial_mark: tuple[object, ...] = ()

    def invalidate(self) -> None:
        """Centers changed or capacity was freed: forget what could fit, and what is free."""
        self._fits = {}
        self._trial = None

    def of(self, jobs: Iterable[Job]) -> dict[int, str]:
        """One line per waiting job: why a PENDING job waits, or that a SCHEDULED one waits for
        its center's agent. Jobs not waiting, or waiting for no reason worth telling, are absent."""
        pending: list[SchedulingRequest] = []
        placed: list[Job] = []
        reasons: dict[int, str] = {}
        for job in jobs:
            if job.status is JobStatus.SCHEDULED and job.placement is not None:
                placed.append(job)
            elif job.status is JobStatus.PENDING:
                request = build_request(job.id, job.spec, job.tenant_id)
                if isinstance(request, str):
                    reasons[job.id] = f"the scheduler cannot consider this job: {request}"
                else:
                    pending.append(request)
        if placed:
            reasons |= self._agent_waits(placed)
        if pending:
            reasons |= self._try_now(pending)
        return reasons

    def _try_now(self, pending: list[SchedulingRequest]) -> dict[int, str]:
        """The waiting jobs decided against current capacity, in queue order; what the trial
        places is given back, so the snapshot serves the next trial."""
        with self._trial_lock:
            mark = self.store.capacity_fingerprint()  # moves when capacity is freed or a center changes
            stale = time.monotonic() - self._trial_since > _TRIAL_SNAPSHOT_S or mark != self._trial_mark
            if self._trial is None or stale:
                self._trial, self._trial_since, self._trial_mark = self.scheduling.snapshot(), time.monotonic(), mark
            snapshot = self._trial
            result = self.scheduling.scheduler.run_cycle(snapshot, pending, self.clock.now().timestamp())
            snapshot.undo(d.job_id for d in result.decisions if d.choice is not None)
            return {d.job_id: one_line(d, empty=not snapshot.pools) for d in result.decisions}

    def _agent_waits(self, jobs: list[Job]) -> dict[int, str]:
        centers = {center.name: center for center in self.store.list_centers()}
        now = self.clock.now()
        reasons = {}
        for job in jobs:
            assert job.placement is not None
            center = centers.get(job.placement.center)
            if center is None:
                continue
            presence = center.agent_presence(now, self.offline_after_s)
            if presence is AgentPresence.NEVER:
                reasons[job.id] = f"waits for the agent of center {center.name}, which has never connected"
            elif presence is AgentPresence.SILENT and center.last_seen is not None:
                seen = center.last_seen.strftime("%Y-%m-%d %H:%M:%S")
                reasons[job.id] = f"waits for the agent of center {center.name}, silent since {seen} UTC"
        return reasons

    def why_unfit(self, spec: JobSpec) -> str:
        """Why no registered pool could ever run this job ("" when one could): tried against every
        center at full capacity, online and healthy, so only the job's own demands can rule it out."""
        if time.monotonic() - self._fits_since > _FIT_CACHE_S:
            self._fits, self._fits_since = {}, time.monotonic()
        # What the job's shape is made of (SchedulingRequest.from_spec): hashing these is several
        # times cheaper than building the shape, and a batch of similar jobs asks once.
        key = (spec.resources, spec.nodes, spec.constraints, spec.time_limit)
        answer = self._fits.get(key)
        if answer is None:
            answer = self._fits[key] = self._try_on_an_empty_network(spec)
        return answer

    def _try_on_an_empty_network(self, spec: JobSpec) -> str:
        request = build_request(0, spec, "default")
        if isinstance(request, str):
            return request
        centers = [_at_best(center) for center in self.store.list_centers()]
        snapshot = Snapshot.build(centers, [], self.scheduling.throughput)
        trial = self.scheduling.scheduler.run_cycle(snapshot, [request], self.clock.now().timestamp()).decisions[0]
        return "" if trial.choice is not None else one_line(trial, empty=not centers)


def _at_best(center: Center) -> Center:
    return center.model_copy(update={"state": CenterState.ONLINE, "problem": ""})


def one_line(decision: Decision, *, empty: bool) -> str:
    """A decision in one line; `suanli job explain` gives every reason."""
    if decision.error:
        return f"the scheduler cannot consider this job: {decision.error}"
    if decision.choice is not None:
        choice = decision.choice
        return f"fits now on {choice.center}/{choice.pool}: starts at the next cycle unless jobs ahead take the room"
    if empty:
        return "no center is registered yet"
    rejections = decision.rejections
    if not rejections:
        reason = "no center can take this job now"
    else:
        # Capacity is what changes; a pool that lacks room now says more than one that never fits.
        first = next((r for r in rejections if r.plugin == "fit" and " free" in r.message), rejections[0])
        more = len(rejections) - 1
        where = f"{first.center}/{first.pool}" if first.pool else first.center
        reason = f"{where}: {first.message}"
        if more:
            reason += f" (and {more} more: suanli job explain {decision.job_id})"
    if decision.reservation is not None:
        reason += f"; next in line: {decision.reservation.describe()}"
    return reason
