"""A real container (SQLite in tmp_path, or a fresh PostgreSQL schema) behind FastAPI's TestClient.

PostgreSQL is ``SUANLI_TEST_POSTGRES_URL`` (see tests/integration/storage/conftest.py); its cases
are skipped only when that server does not answer.

The app's lifespan is not entered, so the scheduler loop does not run on its own: a test runs
cycles with ``container.loop.run_once()`` and sees exactly what they did.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container, build_container
from suanli.settings import Settings
from tests.integration.storage.conftest import postgres_schema_url  # one PG-schema helper for the suite
from tests.signed_in import signed_in

API = "/api/v1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(home=tmp_path, scheduler_interval_s=0.05)
        return
    with postgres_schema_url() as url:
        yield Settings(home=tmp_path, database_url=url, scheduler_interval_s=0.05)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    container = build_container(settings)
    yield container
    container.close()


@pytest.fixture
def api(container: Container) -> TestClient:
    return signed_in(container)


def pool(name: str = "gpu", accelerator: str = "A100", per_node: int = 8, nodes: int = 2, price: float = 10.0) -> dict:
    return {
        "name": name,
        "accelerator": accelerator,
        "accelerators_per_node": per_node,
        "cpus_per_node": 96,
        "memory_gb_per_node": 1024,
        "nodes": nodes,
        "price_per_accelerator_hour": price,
    }


def center(name: str = "qingdao-ai", *pools: dict, kind: str = "ai", region: str = "qingdao") -> dict:
    return {"name": name, "owner": f"{name} org", "kind": kind, "region": region, "pools": list(pools or [pool()])}


def job(name: str = "train", accelerators: Any = "A100:8", **extra: Any) -> dict:
    return {"name": name, "command": ["python", "train.py"], "resources": {"accelerators": accelerators}, **extra}


def job_count(container: Container) -> int:
    return sum(container.store.count_jobs_by_status().values())


def problem(response: Any, status: int) -> dict:
    """The problem body of ``response``, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["type"]
    return body


def fields(body: dict) -> list[str]:
    return [e["field"] for e in body["errors"]]
