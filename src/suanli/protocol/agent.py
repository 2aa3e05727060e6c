"""The wire format of the agent protocol (docs/agent-protocol.md), version ``PROTOCOL``.

The server (``suanli.adapters.api.routes.agent``) and the agent (``suanli.agent.client``) both
speak through these classes. Requests are strict: an unknown field, a wrong type or an unknown
state is refused (422) before anything changes, because a half-understood report from a center
must not move a job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.domain.attempts import Attempt, AttemptState
from suanli.domain.centers import Pool
from suanli.domain.job import Job
from suanli.domain.limits import MAX_ID, NUMBER_ONLY, NoNul

PROTOCOL = 1
MAX_PROBLEM_CHARS = 2000
MAX_MESSAGE_CHARS = 4000

# The schema says the one version this server speaks (``const``); another is refused with a 400
# that says which to install (``check_protocol`` in suanli.adapters.api.routes.agent), not a 422.
Protocol = Annotated[int, Field(json_schema_extra={"const": PROTOCOL}), NUMBER_ONLY]
BackendProblem = Annotated[
    str,
    Field(max_length=MAX_PROBLEM_CHARS, description="what is wrong with the backend; empty if healthy"),
    NoNul(),
]

# Strict as JSON is: an unknown field, a string for a number or a number for a string is refused.
# (Pydantic's strict mode would also refuse 3.0 for an integer, which JSON Schema calls one.)
_STRICT = ConfigDict(extra="forbid")
AttemptNumber = Annotated[int, Field(ge=1, le=2**31 - 1), NUMBER_ONLY]
JobId = Annotated[int, Field(ge=1, le=MAX_ID), NUMBER_ONLY]


class AttemptKeyIO(BaseModel):
    """One attempt of one job: the attempt number is its fencing token."""

    model_config = _STRICT

    job_id: JobId
    attempt: AttemptNumber


class HelloIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # pools are lax like the operator's API

    protocol: Protocol
    agent_version: Annotated[str, Field(min_length=1, max_length=100), NoNul()]
    pools: tuple[Pool, ...] = Field(max_length=256)
    running: list[AttemptKeyIO] = Field(default_factory=list, max_length=100_000)
    problem: BackendProblem = ""


class HelloOut(BaseModel):
    protocol: int = PROTOCOL
    center: str
    heartbeat_s: float = Field(description="send a heartbeat this often")
    offline_after_s: float = Field(description="silent this long, the center goes OFFLINE and its attempts are LOST")
    kill: list[AttemptKeyIO] = Field(description="reported attempts that are no longer this center's: stop them")


class HeartbeatIn(BaseModel):
    model_config = _STRICT

    protocol: Protocol
    running: list[AttemptKeyIO] = Field(default_factory=list, max_length=100_000)
    problem: BackendProblem = ""


class HeartbeatOut(BaseModel):
    protocol: int = PROTOCOL
    kill: list[AttemptKeyIO]


class AssignmentOut(BaseModel):
    """Everything an agent needs to start one attempt."""

    job_id: int
    attempt: int
    name: str
    command: str | tuple[str, ...]
    env: dict[str, str]
    workdir: str | None
    pool: str
    accelerator: str
    accelerators_per_node: int
    nodes: int
    node_indices: tuple[int, ...]
    time_limit: float | None

    @classmethod
    def build(cls, attempt: Attempt, job: Job) -> AssignmentOut:
        spec = job.spec
        accelerator = job.placement.accelerator if job.placement is not None else ""
        per_node = job.placement.accelerators_per_node if job.placement is not None else 0
        return cls(
            job_id=job.id,
            attempt=attempt.number,
            name=spec.name,
            command=spec.command,
            env=dict(spec.env),
            workdir=spec.workdir,
            pool=attempt.pool,
            accelerator=accelerator,
            accelerators_per_node=per_node,
            nodes=spec.nodes,
            node_indices=attempt.node_indices,
            time_limit=spec.time_limit,
        )


class AssignmentsOut(BaseModel):
    protocol: int = PROTOCOL
    assignments: list[AssignmentOut] = Field(description="new work; each attempt is handed out once")
    cancel: list[AttemptKeyIO] = Field(description="attempts to stop: their job was cancelled or moved on")


ReportedState = Literal["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "REFUSED"]


class StateIn(BaseModel):
    model_config = _STRICT

    protocol: Protocol
    state: ReportedState
    exit_code: Annotated[int, Field(ge=-(2**31), le=2**31 - 1), NUMBER_ONLY] | None = None
    message: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS), NoNul()] = ""


class AttemptOut(BaseModel):
    job_id: int
    attempt: int
    center: str
    pool: str
    node_indices: tuple[int, ...]
    state: AttemptState
    exit_code: int | None = None
    message: str = ""
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @classmethod
    def from_attempt(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            job_id=attempt.job_id,
            attempt=attempt.number,
            center=attempt.center,
            pool=attempt.pool,
            node_indices=attempt.node_indices,
            state=attempt.state,
            exit_code=attempt.exit_code,
            message=attempt.message,
            created_at=attempt.created_at,
            started_at=attempt.started_at,
            ended_at=attempt.ended_at,
        )


class AttemptListOut(BaseModel):
    attempts: list[AttemptOut]


class TokenOut(BaseModel):
    center: str
    token: str = Field(description="shown once; only its SHA-256 is stored")
    revoked: int = Field(default=0, description="older tokens of the center revoked (with rotate=true)")


class TokensRevokedOut(BaseModel):
    center: str
    revoked: int = Field(description="tokens revoked; agents using them are refused (401) from their next request")


class LogAppendOut(BaseModel):
    """The answer to a shipped log chunk: where the next chunk starts."""

    protocol: int = PROTOCOL
    next_offset: int
