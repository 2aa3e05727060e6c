"""Problems that are not about one resource: malformed or oversize bodies, unknown routes, crashes."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from suanli.composition import Container, build_container
from suanli.settings import Settings
from tests.integration.api.conftest import API, job, job_count, problem
from tests.signed_in import signed_in

JSON = {"content-type": "application/json"}


def test_malformed_json_is_a_400_naming_the_place(api: TestClient, container: Container) -> None:
    broken = b'{\n  "name": "x",\n  "command": }'
    body = problem(api.post(f"{API}/jobs", content=broken, headers=JSON), 400)
    assert "not valid JSON" in body["detail"]
    assert "line 3" in body["detail"]
    assert job_count(container) == 0


def test_a_malformed_batch_is_a_400_and_stores_nothing(api: TestClient, container: Container) -> None:
    body = problem(api.post(f"{API}/jobs/batch", content=b'{"jobs": [\n  {"name": }', headers=JSON), 400)
    assert "not valid JSON" in body["detail"] and "line 2" in body["detail"]
    problem(api.post(f"{API}/jobs/batch", content=b"", headers=JSON), 400)
    assert job_count(container) == 0


@pytest.mark.parametrize("path", ["/jobs", "/jobs/batch", "/centers"])
def test_a_body_that_is_not_json_is_refused(api: TestClient, path: str) -> None:
    body = problem(api.post(f"{API}{path}", content=b"name=x", headers={"content-type": "text/plain"}), 415)
    assert "application/json" in body["detail"]


def test_a_json_body_of_the_wrong_shape_is_a_422(api: TestClient) -> None:
    assert problem(api.post(f"{API}/jobs", json=[job()]), 422)["errors"][0]["field"] == "body"
    assert problem(api.post(f"{API}/jobs"), 422)["errors"][0]["field"] == "body"


@pytest.fixture
def small_api(tmp_path) -> TestClient:  # type: ignore[no-untyped-def]
    container = build_container(Settings(home=tmp_path, max_body_bytes=2_000))
    yield signed_in(container), container  # type: ignore[misc]
    container.close()


def test_oversize_bodies_are_refused_before_parsing(small_api) -> None:  # type: ignore[no-untyped-def]
    client, container = small_api
    big = json.dumps({"jobs": [job(f"j{i}") for i in range(40)]}).encode()
    assert len(big) > 2_000
    declared = problem(client.post(f"{API}/jobs/batch", content=big, headers=JSON), 413)
    assert "2000 bytes" in declared["detail"]

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    streamed = client.post(f"{API}/jobs/batch", content=chunks(), headers=JSON)
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    problem(streamed, 413)
    assert job_count(container) == 0

    small = json.dumps({"jobs": [job("a"), job("b")]}).encode()
    assert client.post(f"{API}/jobs/batch", content=small, headers=JSON).status_code == 201


def test_unknown_routes_and_methods_are_problems(api: TestClient) -> None:
    assert "/docs" in problem(api.get(f"{API}/nowhere"), 404)["detail"]
    problem(api.delete(f"{API}/jobs"), 405)


def test_an_unexpected_failure_is_a_500_without_a_traceback(
    api: TestClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    with container.store.engine.begin() as connection:
        connection.execute(text("ALTER TABLE jobs RENAME TO jobs_gone"))
    with caplog.at_level(logging.ERROR, logger="suanli.api"):
        response = api.get(f"{API}/jobs")
    body = problem(response, 500)
    assert "Traceback" not in response.text
    assert "jobs" not in body["detail"] and "SELECT" not in response.text
    assert any("unexpected error" in r.getMessage() for r in caplog.records)
