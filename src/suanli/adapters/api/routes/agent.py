"""/api/v1/agent: the agent protocol (docs/agent-protocol.md). Each request carries a center token.

Only the long poll is async: it waits on the event loop for the in-process ``Signal`` (fired when
the scheduler writes placements) and re-checks the database every ``RECHECK_S`` for work placed
by another process, holding no connection and no thread while it waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from suanli.adapters.api.responses import json_response, problem_docs
from suanli.domain.attempts import AttemptState
from suanli.domain.errors import SuanliError
from suanli.domain.limits import MAX_ID, MAX_OFFSET
from suanli.protocol.agent import (
    PROTOCOL,
    AssignmentOut,
    AssignmentsOut,
    AttemptKeyIO,
    AttemptOut,
    HeartbeatIn,
    HeartbeatOut,
    HelloIn,
    HelloOut,
    LogAppendOut,
    StateIn,
)
from suanli.services.agents import AgentService
from suanli.services.signal import Signal

RECHECK_S = 0.25
MAX_WAIT_S = 60.0
MAX_LOG_CHUNK = 1024 * 1024  # bytes in one shipped log chunk


class LogChunkTooLarge(SuanliError):
    http_status = 413
    title = "Log chunk too large"


class Unauthorized(SuanliError):
    http_status = 401
    title = "Unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="suanli-agent"'}


class UnsupportedProtocol(SuanliError):
    http_status = 400
    title = "Unsupported agent protocol"


def check_protocol(version: int) -> None:
    if version != PROTOCOL:
        raise UnsupportedProtocol(
            f"this server speaks agent protocol {PROTOCOL}, the agent sent {version}; "
            "install the agent of the same Suanli release as the server",
            field="protocol",
        )


def _keys(keys: list[AttemptKeyIO]) -> list[tuple[int, int]]:
    return [(k.job_id, k.attempt) for k in keys]


def _out(keys: list[tuple[int, int]]) -> list[AttemptKeyIO]:
    return [AttemptKeyIO(job_id=job_id, attempt=number) for job_id, number in keys]


CenterOf = Callable[..., str]
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
AttemptNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
ProtocolParam = Annotated[int, Query(json_schema_extra={"const": PROTOCOL})]


def center_auth(agents: AgentService) -> CenterOf:
    """The dependency that names the center whose token the request carries."""

    def center_of(authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> str:
        """Raises Unauthorized for a missing or unknown token."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "send the center's token as 'Authorization: Bearer <token>'; mint one with `suanli center token NAME`"
            )
        center = agents.center_for(token.strip())
        if center is None:
            raise Unauthorized("the center token is not valid (mistyped, or its center was deleted); mint a new one")
        return center

    return center_of


def agent_router(agents: AgentService, signal: Signal, *, heartbeat_s: float, offline_after_s: float) -> APIRouter:
    """``signal`` fires when there may be news for a center's long poll."""
    router = APIRouter(prefix="/agent", tags=["agent"])
    center_of = center_auth(agents)
    add_session_routes(router, agents, center_of, heartbeat_s=heartbeat_s, offline_after_s=offline_after_s)
    add_assignments_route(router, agents, signal, center_of)
    add_attempt_routes(router, agents, center_of)
    return router


def add_session_routes(
    router: APIRouter, agents: AgentService, center_of: CenterOf, *, heartbeat_s: float, offline_after_s: float
) -> None:
    """Hello and heartbeats: the center is online, and these attempts run there."""

    @router.post("/hello", response_model=HelloOut, responses=problem_docs(400, 401, 422), summary="Agent connects")
    def hello(body: HelloIn, center: str = Depends(center_of)) -> Response:
        check_protocol(body.protocol)
        kill = agents.hello(center, body.pools, _keys(body.running), body.problem)
        out = HelloOut(center=center, heartbeat_s=heartbeat_s, offline_after_s=offline_after_s, kill=_out(kill))
        return json_response(out)

    @router.post("/heartbeat", response_model=HeartbeatOut, responses=problem_docs(400, 401, 422), summary="Alive")
    def heartbeat(body: HeartbeatIn, center: str = Depends(center_of)) -> Response:
        check_protocol(body.protocol)
        return json_response(HeartbeatOut(kill=_out(agents.heartbeat(center, _keys(body.running), body.problem))))


def add_assignments_route(router: APIRouter, agents: AgentService, signal: Signal, center_of: CenterOf) -> None:
    @router.get(
        "/assignments",
        response_model=AssignmentsOut,
        responses=problem_docs(400, 401, 422),
        summary="Long-poll for new attempts (each delivered once) and cancellations",
    )
    async def assignments(
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description="seconds to wait for work")] = 0,
        protocol: ProtocolParam = PROTOCOL,
        center: str = Depends(center_of),
    ) -> Response:
        check_protocol(protocol)
        return json_response(await long_poll(agents, signal, center, wait))


async def long_poll(agents: AgentService, signal: Signal, center: str, wait: float) -> AssignmentsOut:
    """New attempts and cancellations for ``center``, waiting up to ``wait`` seconds for some."""
    deadline = time.monotonic() + wait
    known_cancels: set[tuple[int, int]] | None = None
    while True:
        since = signal.generation
        poll = await run_in_threadpool(agents.poll, center)
        if known_cancels is None:
            known_cancels = set(poll.cancel)
        remaining = deadline - time.monotonic()
        if poll.assignments or not set(poll.cancel) <= known_cancels or remaining <= 0:
            return AssignmentsOut(
                assignments=[AssignmentOut.build(a, j) for a, j in poll.assignments], cancel=_out(poll.cancel)
            )
        await signal.wait(since, min(RECHECK_S, remaining))


def add_attempt_routes(router: APIRouter, agents: AgentService, center_of: CenterOf) -> None:
    """An attempt's state and output, fenced by its attempt number."""

    @router.post(
        "/attempts/{job_id}/{attempt}/state",
        response_model=AttemptOut,
        responses=problem_docs(400, 401, 403, 404, 409, 422),
        summary="Report an attempt's state (fenced by the attempt number)",
    )
    def report_state(
        job_id: JobId, attempt: AttemptNumber, body: StateIn, center: str = Depends(center_of)
    ) -> Response:
        check_protocol(body.protocol)
        moved = agents.report(center, job_id, attempt, AttemptState(body.state), body.exit_code, body.message)
        return json_response(AttemptOut.from_attempt(moved))

    @router.post(
        "/attempts/{job_id}/{attempt}/logs",
        response_model=LogAppendOut,
        responses=problem_docs(400, 401, 403, 404, 409, 413, 422),
        summary="Ship a chunk of an attempt's output (raw bytes, starting at the stored length)",
    )
    async def ship_logs(
        request: Request,
        job_id: JobId,
        attempt: AttemptNumber,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="where the chunk starts in the log")],
        protocol: ProtocolParam = PROTOCOL,
        center: str = Depends(center_of),
    ) -> Response:
        check_protocol(protocol)
        data = await read_log_chunk(request)
        stored = await run_in_threadpool(agents.append_log, center, job_id, attempt, offset, data)
        return json_response(LogAppendOut(next_offset=stored))


async def read_log_chunk(request: Request) -> bytes:
    """The body of a shipped log chunk; raises LogChunkTooLarge past ``MAX_LOG_CHUNK`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_LOG_CHUNK:
        raise LogChunkTooLarge(f"a log chunk holds at most {MAX_LOG_CHUNK} bytes; send smaller chunks")
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > MAX_LOG_CHUNK:
            raise LogChunkTooLarge(f"a log chunk holds at most {MAX_LOG_CHUNK} bytes; send smaller chunks")
    return bytes(data)
