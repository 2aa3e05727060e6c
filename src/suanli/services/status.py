"""The network at a glance (`suanli status`): the scheduler, centers and their agents, the queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from suanli.domain.centers import AgentPresence
from suanli.domain.job_status import JobStatus
from suanli.services.clock import Clock
from suanli.services.ports import Store
from suanli.services.scheduling import SchedulingService


@dataclass(frozen=True, slots=True)
class CenterGlance:
    name: str
    condition: str  # as people see it: NO_AGENT for a center no agent ever connected to
    agent: AgentPresence
    last_seen: datetime | None
    total_accelerators: int
    free_accelerators: int


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    leader: str  # the process that ran the last cycle that placed work ("" before any)
    last_placement_at: datetime | None
    centers: list[CenterGlance]
    jobs: dict[JobStatus, int]
    oldest_pending_since: datetime | None


class StatusService:
    def __init__(self, store: Store, scheduling: SchedulingService, clock: Clock, offline_after_s: float) -> None:
        self.store = store
        self.scheduling = scheduling
        self.clock = clock
        self.offline_after_s = offline_after_s

    def glance(self, organization: str | None = None) -> NetworkStatus:
        """The network as ``organization`` sees it: every center (the network is shared), and its
        own jobs only (None: every organization's, for a platform admin)."""
        now = self.clock.now()
        snapshot = self.scheduling.snapshot()
        free: dict[str, int] = {}
        for pool in snapshot.pools:
            free[pool.center] = free.get(pool.center, 0) + pool.free_total
        centers = []
        for center in self.store.list_centers():
            presence = center.agent_presence(now, self.offline_after_s)
            total = sum(pool.accelerators for pool in center.pools)
            centers.append(
                CenterGlance(
                    center.name,
                    center.shown_state(presence),
                    presence,
                    center.last_seen,
                    total,
                    free.get(center.name, total),
                )
            )
        cycles = self.store.recent_cycles(1)
        return NetworkStatus(
            leader=cycles[0].holder if cycles else "",
            last_placement_at=cycles[0].started_at if cycles else None,
            centers=centers,
            jobs=self.store.count_jobs_by_status(organization),
            oldest_pending_since=self.store.oldest_pending_since(organization),
        )
