"""/api/v1/health: is the server up, which database, and is this process scheduling; /api/v1/status:
the network at a glance (scheduler, centers and their agents, the queue)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

import suanli
from suanli.adapters.api.auth import Asker, organization_of
from suanli.adapters.api.responses import json_response
from suanli.protocol.rest import CenterGlanceOut, HealthOut, QueueOut, SchedulerHealth, StatusOut
from suanli.services.scheduler_loop import SchedulerLoop
from suanli.services.status import StatusService


def database_kind(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    return "postgresql" if scheme in ("postgresql", "postgres") else scheme


def health_router(loop: SchedulerLoop, status: StatusService, database_url: str) -> APIRouter:
    router = APIRouter(tags=["health"])
    database = database_kind(database_url)

    def health_now() -> HealthOut:
        return HealthOut(
            status="degraded" if loop.last_error else "ok",
            version=suanli.__version__,
            database=database,
            scheduler=SchedulerHealth(leader=loop.is_leader, cycles=loop.cycles, last_error=loop.last_error),
        )

    @router.get("/health", response_model=HealthOut, summary="Server, database and scheduler status")
    def health() -> Response:
        return json_response(health_now())

    @router.get("/status", response_model=StatusOut, summary="The network at a glance: scheduler, centers, queue")
    def network_status(asker: Asker) -> Response:
        glance = status.glance(organization_of(asker))
        centers = [
            CenterGlanceOut(
                name=c.name,
                condition=c.condition,
                agent=c.agent,
                agent_last_seen=c.last_seen,
                total_accelerators=c.total_accelerators,
                free_accelerators=c.free_accelerators,
            )
            for c in glance.centers
        ]
        out = StatusOut(
            health=health_now(),
            leader=glance.leader,
            last_placement_at=glance.last_placement_at,
            centers=centers,
            queue=QueueOut(jobs=glance.jobs, oldest_pending_since=glance.oldest_pending_since),
        )
        return json_response(out)

    return router
