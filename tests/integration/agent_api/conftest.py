"""The agent protocol driven over HTTP exactly as an agent would, on SQLite and PostgreSQL.

The container runs on a clock the test moves (``clock.advance``), so heartbeat timeouts need no
sleeping; scheduling cycles run when the test says (``container.loop.run_once()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container, build_container
from suanli.settings import Settings
from tests.clocks import ManualClock
from tests.integration.api.conftest import API, center, pool
from tests.integration.storage.conftest import postgres_schema_url
from tests.signed_in import signed_in

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
