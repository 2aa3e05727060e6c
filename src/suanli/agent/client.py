"""The agent's side of the agent protocol (docs/agent-protocol.md): a small httpx client that
speaks for one center with its token. Separate from the user SDK (``suanli.client``): an agent
needs five calls, plain data back, and errors it can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from suanli.agent.executor import AttemptKey, owner_tag
from suanli.domain.centers import Pool

PROTOCOL = 1


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
    def parse(cls, data: dict[str, Any]) -> Assignment:
        command = data["command"]
        return cls(
            key=AttemptKey(int(data["job_id"]), int(data["attempt"])),
            name=str(data.get("name", "")),
            command=tuple(str(part) for part in command) if isinstance(command, list) else str(command),
            env={str(k): str(v) for k, v in (data.get("env") or {}).items()},
            workdir=data.get("workdir"),
            pool=str(data.get("pool") or ""),
            accelerator=str(data.get("accelerator") or "CPU"),
            accelerators_per_node=int(data.get("accelerators_per_node") or 0),
            nodes=int(data.get("nodes") or 1),
            time_limit=None if data.get("time_limit") is None else float(data["time_limit"]),
        )


@dataclass(frozen=True, slots=True)
class Assignments:
    assignments: list[Assignment] = field(default_factory=list)
    cancel: list[AttemptKey] = field(default_factory=list)


def _text(words: str) -> str:
    """What a backend or a job said, as text the server takes: it refuses NUL (U+0000), which
    a job's own message may hold, and the report must still arrive."""
    return words.replace("\x00", "\\0")


def _keys(items: list[dict[str, Any]] | None) -> list[AttemptKey]:
    return [AttemptKey(int(item["job_id"]), int(item["attempt"])) for item in items or []]


def _key_list(keys: list[AttemptKey]) -> list[dict[str, int]]:
    return [{"job_id": key.job_id, "attempt": key.attempt} for key in keys]


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

    def _call(self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any) -> dict[str, Any]:
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
            except ValueError:
                detail = response.text
            expected = response.headers.get("X-Suanli-Expected-Offset", "")
            if response.status_code == 409 and expected.isdigit():
                raise LogOffsetMismatch(response.status_code, detail, int(expected))
            kind = StaleAttempt if response.status_code in (403, 404, 409) else AgentApiError
            raise kind(response.status_code, detail)
        try:
            data = response.json()
        except ValueError as error:
            raise AgentTransportError(f"{self.server}: an answer that is not JSON on {path}") from error
        if not isinstance(data, dict):
            raise AgentTransportError(f"{self.server}: an unexpected answer on {path}")
        return data

    def hello(self, pools: list[Pool], running: list[AttemptKey], problem: str = "") -> HelloAnswer:
        body = {
            "protocol": PROTOCOL,
            "agent_version": self.agent_version,
            "pools": [pool.model_dump(mode="json") for pool in pools],
            "running": _key_list(running),
            "problem": _text(problem),
        }
        data = self._call("POST", "/hello", json=body)
        return HelloAnswer(
            center=str(data["center"]),
            heartbeat_s=float(data["heartbeat_s"]),
            offline_after_s=float(data["offline_after_s"]),
            kill=_keys(data.get("kill")),
        )

    def heartbeat(self, running: list[AttemptKey], problem: str = "") -> list[AttemptKey]:
        """``problem``: what is wrong with the backend ("" while it is healthy)."""
        body = {"protocol": PROTOCOL, "running": _key_list(running), "problem": _text(problem)}
        data = self._call("POST", "/heartbeat", json=body)
        return _keys(data.get("kill"))

    def assignments(self, wait_s: float) -> Assignments:
        data = self._call(
            "GET",
            "/assignments",
            params={"wait": f"{wait_s:g}", "protocol": PROTOCOL},
            timeout_s=self.timeout_s + wait_s,
        )
        items = data.get("assignments") or []
        return Assignments([Assignment.parse(item) for item in items], _keys(data.get("cancel")))

    def report(self, key: AttemptKey, state: str, exit_code: int | None = None, message: str = "") -> None:
        body: dict[str, Any] = {"protocol": PROTOCOL, "state": state, "message": _text(message)[:4000]}
        if exit_code is not None:
            body["exit_code"] = exit_code
        self._call("POST", f"/attempts/{key.job_id}/{key.attempt}/state", json=body)

    def ship_logs(self, key: AttemptKey, offset: int, data: bytes) -> int:
        """Sends a chunk of the attempt's output that starts at byte ``offset``; returns where the
        next chunk starts. Raises LogOffsetMismatch (resume from its ``expected_offset``) or
        StaleAttempt (stop shipping this attempt)."""
        answer = self._call(
            "POST",
            f"/attempts/{key.job_id}/{key.attempt}/logs",
            params={"offset": offset, "protocol": PROTOCOL},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return int(answer["next_offset"])
