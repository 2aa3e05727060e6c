"""/api/v1/health, the OpenAPI document, and the lifespan that runs the scheduler loop."""

from __future__ import annotations

from fastapi.testclient import TestClient

from suanli.composition import Container, bootstrap_identity, create_app_from_settings
from suanli.settings import Settings
from tests.integration.api.conftest import API, center, job
from tests.signed_in import signed_in
from tests.waiting import wait_until


def test_health_names_the_database_and_the_scheduler(api: TestClient, container: Container) -> None:
    body = api.get(f"{API}/health").json()
    expected = "postgresql" if container.store.engine.dialect.name == "postgresql" else "sqlite"
    assert body["status"] == "ok"
    assert body["database"] == expected
    assert body["version"]
    assert body["scheduler"] == {"leader": False, "cycles": 0, "last_error": ""}

    container.loop.run_once()
    assert api.get(f"{API}/health").json()["scheduler"] == {"leader": True, "cycles": 1, "last_error": ""}


def test_openapi_and_docs_are_served(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        f"{API}/health",
        f"{API}/centers",
        f"{API}/centers/{{name}}",
        f"{API}/centers/{{name}}/pools",
        f"{API}/centers/{{name}}/drain",
        f"{API}/centers/{{name}}/resume",
        f"{API}/jobs",
        f"{API}/jobs/batch",
        f"{API}/jobs/{{job_id}}",
        f"{API}/jobs/{{job_id}}/cancel",
        f"{API}/jobs/{{job_id}}/explain",
    } <= paths
    submit = spec["paths"][f"{API}/jobs"]["post"]
    assert "201" in submit["responses"] and "422" in submit["responses"]
    assert any(p["name"].lower() == "idempotency-key" for p in submit["parameters"])
    assert api.get("/docs").status_code == 200

    batch_body = spec["paths"][f"{API}/jobs/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch_body == {"$ref": "#/components/schemas/JobBatchIn"}
    schemas = spec["components"]["schemas"]
    assert "idempotency_key" in schemas["BatchJobIn"]["properties"]
    assert {"JobOut", "CenterOut", "Problem", "JobSpec", "CenterSpec"} <= set(schemas)
    for ref in _refs(spec):
        assert ref.removeprefix("#/components/schemas/") in schemas, f"dangling {ref}"


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_lifespan_runs_the_scheduler_and_closes_the_container(container: Container) -> None:
    with signed_in(container) as client:
        client.post(f"{API}/centers", json=center())
        submitted = client.post(f"{API}/jobs", json=job()).json()
        wait_until(
            lambda: client.get(f"{API}/jobs/{submitted['id']}").json()["status"] != "PENDING",
            "the scheduler loop never placed the job",
            interval_s=0.02,
        )
        health = client.get(f"{API}/health").json()
        assert health["scheduler"]["leader"] is True
        assert health["scheduler"]["cycles"] >= 1
    assert not container.loop.is_leader


def test_an_app_from_settings_serves_and_stops(settings: Settings) -> None:
    with TestClient(create_app_from_settings(settings)) as client:
        assert client.get(f"{API}/health").json()["status"] == "ok"  # the health check is public
        assert client.post(f"{API}/jobs", json=job()).status_code == 401  # nothing else is
        token = bootstrap_identity(settings)
        assert token is not None
        signed = {"Authorization": f"Bearer {token}"}
        assert client.post(f"{API}/jobs", json=job(), headers=signed).status_code == 201
