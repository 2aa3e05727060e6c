"""The agent protocol driven over HTTP exactly as an agent would, on SQLite and PostgreSQL.

The container runs on a clock the test moves (``clock.advance``), so heartbeat timeouts need no
sleeping; scheduling cycles run when the test says (``container.loop.run_once()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container, build_container
from suanli.domain.identity import Role
from suanli.settings import Settings
from tests.clocks import ManualClock
from tests.integration.api.conftest import API, center, pool
from tests.integration.storage.conftest import postgres_schema_url
from tests.signed_in import admin_token, signed_in

AGENT = f"{API}/agent"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Settings]:
    common: dict[str, Any] = {"home": tmp_path, "scheduler_interval_s": 0.05, "agent_offline_after_s": 30}
    if request.param == "sqlite":
        yield Settings(**common)
        return
    with postgres_schema_url() as url:
        yield Settings(database_url=url, **common)


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    container = build_container(settings, clock)
    yield container
    container.close()


@pytest.fixture
def api(container: Container) -> TestClient:
    return signed_in(container)


@dataclass
class Agent:
    """What a center's agent sends, one method per endpoint; responses are returned unchecked."""

    api: TestClient
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def hello(self, pools: list[dict[str, Any]], running: list[dict[str, int]] | None = None) -> httpx.Response:
        body = {"protocol": 1, "agent_version": "test", "pools": pools, "running": running or []}
        return self.api.post(f"{AGENT}/hello", json=body, headers=self.auth)

    def heartbeat(self, running: list[dict[str, int]] | None = None, problem: str = "") -> httpx.Response:
        body = {"protocol": 1, "running": running or [], "problem": problem}
        return self.api.post(f"{AGENT}/heartbeat", json=body, headers=self.auth)

    def poll(self, wait: float = 0) -> httpx.Response:
        return self.api.get(f"{AGENT}/assignments", params={"wait": wait}, headers=self.auth)

    def report(self, job_id: int, attempt: int, state: str, **extra: Any) -> httpx.Response:
        body = {"protocol": 1, "state": state, **extra}
        return self.api.post(f"{AGENT}/attempts/{job_id}/{attempt}/state", json=body, headers=self.auth)


def register(api: TestClient, name: str, *pools: dict[str, Any]) -> Agent:
    """Registers a center and mints its agent's token."""
    assert api.post(f"{API}/centers", json=center(name, *(pools or (pool(),)))).status_code == 201
    response = api.post(f"{API}/centers/{name}/tokens")
    assert response.status_code == 201, response.text
    return Agent(api, response.json()["token"])


def submit(api: TestClient, name: str = "train", **extra: Any) -> int:
    body = {"name": name, "command": ["python", "train.py"], "resources": {"accelerators": "A100:8"}, **extra}
    response = api.post(f"{API}/jobs", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def job(api: TestClient, job_id: int) -> dict[str, Any]:
    response = api.get(f"{API}/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def attempts(api: TestClient, job_id: int) -> list[dict[str, Any]]:
    response = api.get(f"{API}/jobs/{job_id}/attempts")
    assert response.status_code == 200, response.text
    return list(response.json()["attempts"])


@dataclass
class Network:
    """acme and rival, each with a center running jobs; usage written by their agents."""

    api: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)  # center -> its agent's token

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.request(method, API + path, headers=self.as_(who), **kwargs)
        assert 200 <= response.status_code < 300, response.text
        return response.json()

    def usage(self, who: str, **params: Any) -> Any:
        return self.ok(who, "GET", "/usage", params=params)

    def heartbeats(self) -> None:
        """Every agent says it is alive, so that no center goes OFFLINE while the clock moves."""
        for token in self.agents.values():
            body = {"protocol": 1, "running": []}
            assert self.api.post(
                f"{AGENT}/heartbeat", json=body, headers={"Authorization": f"Bearer {token}"}
            ).is_success

    def person(self, name: str, org: str, role: Role) -> None:
        self.ok("admin", "POST", f"/organizations/{org}/members", json={"name": name, "role": role.value})
        self.tokens[name] = self.ok("admin", "POST", "/tokens", json={"name": "t", "principal": name})["token"]


def run_job(net: Network, container: Container, who: str, on: str, gpus: int, seconds: int) -> int:
    """A job of ``who`` placed on ``on``, run for ``seconds`` by the center's agent and ended."""
    clock: ManualClock = container.agents.clock  # type: ignore[assignment]
    body: dict[str, Any] = {"name": "train", "command": ["python", "train.py"]}
    body |= {"resources": {"accelerators": f"A100:{gpus}"}, "constraints": {"centers": [on]}}
    job_id = int(net.ok(who, "POST", "/jobs", json=body)["id"])
    container.loop.run_once()
    auth = {"Authorization": f"Bearer {net.agents[on]}"}
    taken = net.api.get(f"{AGENT}/assignments", params={"wait": 0}, headers=auth).json()["assignments"]
    assert [a["job_id"] for a in taken] == [job_id]
    for state in ("RUNNING", "SUCCEEDED"):
        report = {"protocol": 1, "state": state, "exit_code": 0 if state == "SUCCEEDED" else None}
        assert net.api.post(f"{AGENT}/attempts/{job_id}/1/state", json=report, headers=auth).status_code == 200
        if state == "RUNNING":
            clock.advance(seconds)
            net.heartbeats()
    return job_id


@pytest.fixture
def net(api: TestClient, container: Container) -> Network:
    net = Network(api, {"admin": admin_token(container)})
    for org in ("acme", "rival"):
        net.ok("admin", "POST", "/organizations", json={"name": org, "kind": "enterprise"})
        net.person(f"{org}-owner", org, Role.ORG_ADMIN)
        net.person(f"{org}-user", org, Role.MEMBER)
        net.ok(f"{org}-owner", "POST", "/centers", json=center(f"{org}-ai", pool()))
        token = net.agents[f"{org}-ai"] = net.ok("admin", "POST", f"/centers/{org}-ai/tokens")["token"]
        hello = {"protocol": 1, "agent_version": "test", "pools": [pool()], "running": []}
        assert net.api.post(f"{AGENT}/hello", json=hello, headers={"Authorization": f"Bearer {token}"}).is_success
    for role in (Role.VIEWER, Role.AUDITOR, Role.CENTER_OPERATOR):
        net.person(f"acme-{role.value}", "acme", role)
    net.jobs["acme"] = run_job(net, container, "acme-user", "acme-ai", 8, 3600)
    net.jobs["rival"] = run_job(net, container, "rival-user", "rival-ai", 4, 1800)
    net.jobs["placed"] = run_job(net, container, "rival-user", "acme-ai", 2, 900)
    return net
