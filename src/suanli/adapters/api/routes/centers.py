"""/api/v1/centers: register, list, show with capacity, resize pools, drain, resume, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from suanli.adapters.api.auth import Asker, organization_of
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.domain.centers import NAME_PATTERN, Center, CenterSpec, CenterState
from suanli.protocol.agent import TokenOut, TokensRevokedOut
from suanli.protocol.rest import CenterListOut, CenterOut, PoolsIn
from suanli.services.agents import AgentService
from suanli.services.centers import CenterService
from suanli.services.scheduling import SchedulingService

CenterName = Annotated[str, Path(min_length=1, max_length=63, pattern=NAME_PATTERN, description="the center's name")]


def centers_router(centers: CenterService, scheduling: SchedulingService, agents: AgentService) -> APIRouter:
    router = APIRouter(prefix="/centers", tags=["centers"])
    capacity = Capacity(scheduling, centers)
    add_listing_routes(router, centers, capacity)
    add_change_routes(router, centers, capacity)
    add_token_routes(router, centers, agents)
    return router


class Capacity:
    """A center as the API shows it: with the free accelerators of the scheduler's snapshot and
    whether its agent is connected."""

    def __init__(self, scheduling: SchedulingService, centers: CenterService) -> None:
        self.scheduling = scheduling
        self.centers = centers

    def free_by_pool(self) -> dict[tuple[str, str], int]:
        snapshot = self.scheduling.snapshot()
        return {(pool.center, pool.name): pool.free_total for pool in snapshot.pools}

    def out(self, center: Center, status: int = 200) -> Response:
        return json_response(self.shown(center, self.free_by_pool()), status)

    def shown(self, center: Center, free: dict[tuple[str, str], int]) -> CenterOut:
        return CenterOut.from_center(center, free, self.centers.presence(center))


def add_listing_routes(router: APIRouter, centers: CenterService, capacity: Capacity) -> None:
    """Register, list, show."""

    @router.post(
        "",
        status_code=201,
        response_model=CenterOut,
        responses=problem_docs(400, 409, 415, 422),
        summary="Register a center",
    )
    def add_center(spec: CenterSpec, asker: Asker) -> Response:
        return capacity.out(centers.add(spec, asker.organization), 201)

    @router.get("", response_model=CenterListOut, summary="List centers with their capacity")
    def list_centers() -> Response:
        free = capacity.free_by_pool()
        listed = [capacity.shown(c, free) for c in centers.list()]
        return json_response(CenterListOut.model_construct(centers=listed))

    @router.get("/{name}", response_model=CenterOut, responses=problem_docs(404, 422), summary="Show a center")
    def get_center(name: CenterName) -> Response:
        return capacity.out(centers.get(name))


def add_change_routes(router: APIRouter, centers: CenterService, capacity: Capacity) -> None:
    """Resize pools, drain, resume, delete."""

    @router.put(
        "/{name}/pools",
        response_model=CenterOut,
        responses=problem_docs(400, 404, 409, 415, 422),
        summary="Replace a center's pools",
    )
    def set_pools(name: CenterName, body: PoolsIn, asker: Asker) -> Response:
        centers.owned_by(name, organization_of(asker))
        return capacity.out(centers.set_pools(name, body.pools))

    @router.post(
        "/{name}/drain",
        response_model=CenterOut,
        responses=problem_docs(404, 409, 422),
        summary="Stop placing new work on a center; what runs there goes on",
    )
    def drain_center(name: CenterName, asker: Asker) -> Response:
        centers.owned_by(name, organization_of(asker))
        return capacity.out(centers.drain(name))

    @router.post(
        "/{name}/resume", response_model=CenterOut, responses=problem_docs(404, 409, 422), summary="Take new work again"
    )
    def resume_center(name: CenterName, asker: Asker) -> Response:
        centers.owned_by(name, organization_of(asker))
        return capacity.out(centers.set_state(name, CenterState.ONLINE))

    @router.delete(
        "/{name}",
        status_code=204,
        responses=problem_docs(404, 409, 422),
        summary="Remove a center (refused while jobs are active there)",
    )
    def delete_center(name: CenterName, asker: Asker) -> Response:
        centers.owned_by(name, organization_of(asker))
        centers.delete(name)
        return Response(status_code=204)


def add_token_routes(router: APIRouter, centers: CenterService, agents: AgentService) -> None:
    """Mint and revoke the tokens of a center's agent."""

    @router.post(
        "/{name}/tokens",
        status_code=201,
        response_model=TokenOut,
        responses=problem_docs(404, 422),
        summary="Mint a token for the center's agent (shown once; stored hashed)",
    )
    def mint_token(
        name: CenterName,
        asker: Asker,
        rotate: Annotated[bool, Query(description="also revoke every older token of the center")] = False,
    ) -> Response:
        centers.owned_by(name, organization_of(asker))
        if rotate:
            token, revoked = agents.rotate_token(name)
            return json_response(TokenOut(center=name, token=token, revoked=revoked), 201)
        return json_response(TokenOut(center=name, token=agents.mint_token(name)), 201)

    @router.delete(
        "/{name}/tokens",
        response_model=TokensRevokedOut,
        responses=problem_docs(404, 422),
        summary="Revoke every token of the center: its agent is refused from its next request",
    )
    def revoke_tokens(name: CenterName, asker: Asker) -> Response:
        centers.owned_by(name, organization_of(asker))
        return json_response(TokensRevokedOut(center=name, revoked=agents.revoke_tokens(name)))
