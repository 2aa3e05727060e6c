"""/api/v1/health: is the server up, which database, and is this process scheduling."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

import suanli
from suanli.adapters.api.responses import json_response
from suanli.adapters.api.schemas import HealthOut, SchedulerHealth
from suanli.composition import Container


def database_kind(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    return "postgresql" if scheme in ("postgresql", "postgres") else scheme


def health_router(container: Container) -> APIRouter:
    router = APIRouter(tags=["health"])
    database = database_kind(container.settings.resolved_database_url)

    @router.get("/health", response_model=HealthOut, summary="Server, database and scheduler status")
    def health() -> Response:
        loop = container.loop
        out = HealthOut(
            status="degraded" if loop.last_error else "ok",
            version=suanli.__version__,
            database=database,
            scheduler=SchedulerHealth(leader=loop.is_leader, cycles=loop.cycles, last_error=loop.last_error),
        )
        return json_response(out)

    return router
