"""The agent's side of the agent protocol (docs/agent-protocol.md): a small httpx client that
speaks for one center with its token. Separate from the user SDK (``suanli.client``): an agent
needs five calls, plain data back, and errors it can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from suanli.agent.executor import AttemptKey, owner_tag
from suanli.domain.centers import Pool
from suanli.domain.errors import describe_error
from suanli.protocol.agent import (
    MAX_MESSAGE_CHARS,
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

M = TypeVar("M", bound=BaseModel)


class AgentTransportError(Exception):
    """The server could not be reached or did not answer (or answered 5xx): try again later."""


class AgentApiError(Exception):
    """The server answered with an error the agent cannot retry its way out of."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class StaleAttempt(AgentApiError):
    """409 (stale fencing token, or a move the state machine forbids), 403 or 404: the server has
    moved on from this attempt; stop it and never report it again."""


class LogOffsetMismatch(AgentApiError):
    """409 on a log chunk that does not start where the server's copy ends: resume from there."""

    def __init__(self, status: int, detail: str, expected_offset: int) -> None:
        super().__init__(status, detail)
        self.expected_offset = expected_offset


@dataclass(frozen=True, slots=True)
class HelloAnswer:
    center: str
    heartbeat_s: float
    offline_after_s: float
    kill: list[AttemptKey]


@dataclass(frozen=True, slots=True)
class Assignment:
    key: AttemptKey
    name: str
    command: str | tuple[str, ...]
    env: dict[str, str]
    workdir: str | None
    pool: str
    accelerator: str
    accelerators_per_node: int
    nodes: int
    time_limit: float | None

    @classmethod
    def from_wire(cls, item: AssignmentOut) -> Assignment:
        return cls(
            key=AttemptKey(item.job_id, item.attempt),
            name=item.name,
            command=item.command,
            env=item.env,
            workdir=item.workdir,
            pool=item.pool,
            accelerator=item.accelerator or "CPU",  # a job placed without accelerators
            accelerators_per_node=item.accelerators_per_node,
            nodes=item.nodes,
            time_limit=item.time_limit,
        )


@dataclass(frozen=True, slots=True)
class Assignments:
    assignments: list[Assignment] = field(default_factory=list)
    cancel: list[AttemptKey] = field(default_factory=list)


def _text(words: str) -> str:
    """What a backend or a job said, as text the server takes: it refuses NUL (U+0000), which
    a job's own message may hold, and the report must still arrive."""
    return words.replace("\x00", "\\0")


def _keys(items: list[AttemptKeyIO]) -> list[AttemptKey]:
    return [AttemptKey(item.job_id, item.attempt) for item in items]


def _key_list(keys: list[AttemptKey]) -> list[AttemptKeyIO]:
    return [AttemptKeyIO.model_construct(job_id=key.job_id, attempt=key.attempt) for key in keys]


def _body(request: BaseModel, *, exclude_none: bool = False) -> dict[str, Any]:
    """A request as JSON. Requests are built with ``model_construct``, not validated here: the
    server judges what it takes, and its refusal (422) is an answer the agent acts on."""
    body: dict[str, Any] = request.model_dump(mode="json", exclude_none=exclude_none)
    return body


class AgentClient:
    """HTTP calls of one agent. Thread-safe (httpx's connection pool is)."""

    def __init__(self, server: str, token: str, *, timeout_s: float = 10.0, agent_version: str = "") -> None:
        if not agent_version:
            import suanli

            agent_version = suanli.__version__
        self.server = server.rstrip("/")
        self.owner = owner_tag(token)  # tags the attempts it starts, so a restarted agent finds its own
        self.agent_version = agent_version
        self.timeout_s = timeout_s
        self._http = httpx.Client(
            base_url=f"{self.server}/api/v1/agent",
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"suanli-agent/{agent_version}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, timeout=timeout_s or self.timeout_s, **kwargs)
        except httpx.HTTPError as error:
            raise AgentTransportError(f"{self.server}: {type(error).__name__}: {error}") from error
        if response.status_code >= 500:
            raise AgentTransportError(f"{self.server}: HTTP {response.status_code} on {path}")
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = str(body.get("detail") or body.get("title") or response.text)
            except (ValueError, AttributeError):
                detail = response.text
            expected = response.headers.get("X-Suanli-Expected-Offset", "")
            if response.status_code == 409 and expected.isdigit():
                raise LogOffsetMismatch(response.status_code, detail, int(expected))
            kind = StaleAttempt if response.status_code in (403, 404, 409) else AgentApiError
            raise kind(response.status_code, detail)
        return response

    def _answer(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        """The server's answer, parsed with the protocol's own type."""
        response = self._call(method, path, **kwargs)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            # The fields it names, not pydantic's text: that quotes the input, an assignment's secret
            # environment values among it, which must not reach the agent's log.
            raise AgentTransportError(
                f"{self.server}: an unexpected answer on {path}: {describe_error(error)}"
            ) from None

    def hello(self, pools: list[Pool], running: list[AttemptKey], problem: str = "") -> HelloAnswer:
        request = HelloIn.model_construct(
            protocol=PROTOCOL,
            agent_version=self.agent_version,
            pools=tuple(pools),
            running=_key_list(running),
            problem=_text(problem),
        )
        answer = self._answer(HelloOut, "POST", "/hello", json=_body(request))
        return HelloAnswer(
            center=answer.center,
            heartbeat_s=answer.heartbeat_s,
            offline_after_s=answer.offline_after_s,
            kill=_keys(answer.kill),
        )

    def heartbeat(self, running: list[AttemptKey], problem: str = "") -> list[AttemptKey]:
        """``problem``: what is wrong with the backend ("" while it is healthy)."""
        request = HeartbeatIn.model_construct(protocol=PROTOCOL, running=_key_list(running), problem=_text(problem))
        return _keys(self._answer(HeartbeatOut, "POST", "/heartbeat", json=_body(request)).kill)

    def assignments(self, wait_s: float) -> Assignments:
        answer = self._answer(
            AssignmentsOut,
            "GET",
            "/assignments",
            params={"wait": f"{wait_s:g}", "protocol": PROTOCOL},
            timeout_s=self.timeout_s + wait_s,
        )
        return Assignments([Assignment.from_wire(item) for item in answer.assignments], _keys(answer.cancel))

    def report(self, key: AttemptKey, state: str, exit_code: int | None = None, message: str = "") -> None:
        request = StateIn.model_construct(
            protocol=PROTOCOL, state=state, exit_code=exit_code, message=_text(message)[:MAX_MESSAGE_CHARS]
        )
        body = _body(request, exclude_none=True)  # no exit_code: none is known
        self._answer(AttemptOut, "POST", f"/attempts/{key.job_id}/{key.attempt}/state", json=body)

    def ship_logs(self, key: AttemptKey, offset: int, data: bytes) -> int:
        """Sends a chunk of the attempt's output that starts at byte ``offset``; returns where the
        next chunk starts. Raises LogOffsetMismatch (resume from its ``expected_offset``) or
        StaleAttempt (stop shipping this attempt)."""
        answer = self._answer(
            LogAppendOut,
            "POST",
            f"/attempts/{key.job_id}/{key.attempt}/logs",
            params={"offset": offset, "protocol": PROTOCOL},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return answer.next_offset
