"""The API says what it does: a 405 names every method of the path, static paths are not
shadowed by parameters, and the OpenAPI document accepts exactly what the server accepts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from tests.integration.agent_api.conftest import register
from tests.integration.api.conftest import API, center, job, pool, problem


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/jobs", "GET, POST"),
        ("PUT", "/jobs/1", "GET"),
        ("GET", "/jobs/batch", "POST"),
        ("DELETE", "/jobs/batch", "POST"),
        ("PATCH", "/centers/qd", "DELETE, GET"),
        ("GET", "/centers/qd/tokens", "DELETE, POST"),
        ("PUT", "/centers", "GET, POST"),
        ("HEAD", "/jobs", "GET, POST"),
    ],
)
def test_a_405_lists_every_method_of_the_path(api: TestClient, method: str, path: str, allowed: str) -> None:
    response = api.request(method, f"{API}{path}")
    assert response.status_code == 405 and response.headers["allow"] == allowed
    if method != "HEAD":  # which has no body
        assert allowed in problem(response, 405)["detail"]


def test_the_batch_path_is_not_taken_for_a_job_id(api: TestClient) -> None:
    assert problem(api.get(f"{API}/jobs/batch"), 405)["type"].endswith("method-not-allowed")
    assert problem(api.get(f"{API}/jobs/batchy"), 422)["errors"][0]["field"] == "job_id"
    assert problem(api.post(f"{API}/jobs/batch/cancel"), 404)


def document(api: TestClient) -> dict[str, Any]:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": doc["components"]})


def body_schema(doc: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    return dict(doc["paths"][f"{API}{path}"][method]["requestBody"]["content"]["application/json"]["schema"])


JOBS: list[dict[str, Any]] = [
    job(),
    job(command=""),
    job(command="   "),
    job(command=[]),
    job(command=[""]),
    job(command=["python", ""]),
    job(accelerators="Z9000:8"),
    job(accelerators="a100:8"),
    job(accelerators=["A100-80G", "910b:8"]),
    job(accelerators={"model": "ascend-910b", "count": 8}),
    job(accelerators={"model": "Z9000", "count": 8}),
    job(accelerators="A100:1025"),
    job(accelerators="A100:0"),
    {"name": "cpu", "command": "true", "resources": {"cpus": 2000}},
    {"name": "cpu", "command": "true", "resources": {"cpus": 1024}},
    {"name": "cpu", "command": "true", "resources": {"cpus": 2000, "accelerators": []}},
    job(resources={"cpus": 2000, "accelerators": "T4"}),
    job(env={"1BAD": "x"}),
    job(env={"GOOD_1": "x"}),
    job(env={"GOOD_1": "x"}, secret_env=["GOOD_1"]),
    job(env={"GOOD_1": "x"}, secret_env=["1BAD"]),
    job(labels={"": "x"}),
    job(labels={"team": "nlp"}),
    job(name="a\x00b"),
    job(name=""),
    job(time_limit="90m"),
    job(time_limit="soon"),
    job(time_limit=0),
    job(time_limit=10**9),
    job(nodes=4097),
    job(priority=1001),
    job(constraints={"centers": ["Qingdao AI"]}),
]


@pytest.mark.parametrize("payload", JOBS)
def test_the_schema_and_the_server_agree_on_a_job(api: TestClient, payload: dict[str, Any]) -> None:
    doc = document(api)
    in_schema = validator(doc, body_schema(doc, "/jobs")).is_valid(payload)
    response = api.post(f"{API}/jobs", json=payload)
    assert in_schema == (response.status_code == 201), response.text
    batch = {"jobs": [payload]}
    in_batch_schema = validator(doc, body_schema(doc, "/jobs/batch")).is_valid(batch)
    assert in_batch_schema == in_schema == (api.post(f"{API}/jobs/batch", json=batch).status_code == 201)


@pytest.mark.parametrize(
    "payload",
    [
        center("qd"),
        center("qd", pool(accelerator="Z9000")),
        center("qd", pool(accelerator="a100")),
        {**center("qd"), "owner": ""},
        {**center("qd"), "region": "r\x00"},
        {**center("qd"), "name": "QD"},
        center("qd", {**pool(), "price_per_accelerator_hour": 1e308}),
        center("qd", {**pool(), "carbon_intensity": 1e9}),
    ],
)
def test_the_schema_and_the_server_agree_on_a_center(api: TestClient, payload: dict[str, Any]) -> None:
    doc = document(api)
    in_schema = validator(doc, body_schema(doc, "/centers")).is_valid(payload)
    assert in_schema == (api.post(f"{API}/centers", json=payload).status_code == 201)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("label", ""),
        ("label", "=x"),
        ("label", "team"),
        ("label", "team="),
        ("label", "team=nlp=x"),
        ("status", "PENDING"),
        ("status", "pending, running"),
        ("status", "DONE"),
        ("status", ",,"),
        ("cursor", "12"),
        ("cursor", "x"),
        ("cursor", "9" * 19),
        ("cursor", "9" * 20),
    ],
)
def test_the_schema_and_the_server_agree_on_list_filters(api: TestClient, name: str, value: str) -> None:
    doc = document(api)
    parameters = {p["name"]: p for p in doc["paths"][f"{API}/jobs"]["get"]["parameters"]}
    schema = parameters[name]["schema"]
    checked = schema["items"] if schema.get("type") == "array" else schema
    in_schema = validator(doc, checked).is_valid(value)
    assert in_schema == (api.get(f"{API}/jobs", params={name: value}).status_code == 200)


def test_the_schema_states_the_one_agent_protocol(api: TestClient) -> None:
    doc = document(api)
    agent = register(api, "qd", pool())
    for version, status in ((1, 200), (2, 400), (0, 400)):
        body = {"protocol": version, "running": []}
        assert validator(doc, body_schema(doc, "/agent/heartbeat")).is_valid(body) == (status == 200)
        response = api.post(f"{API}/agent/heartbeat", json=body, headers=agent.auth)
        assert response.status_code == status, response.text


def _request_schemas(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every schema a request can carry, refs followed, with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def walk(node: Any, where: str, constrained: bool = False) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(doc["components"]["schemas"][name], name)
                return
            found.append((where, {**node, "constrained": constrained}))
            # A pattern beside anyOf applies to the string among the alternatives.
            inherited = constrained or "pattern" in node
            for key, value in node.items():
                walk(value, f"{where}.{key}", inherited and key in ("anyOf", "oneOf"))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]", constrained)

    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {path} {parameter['name']}")
            if "requestBody" in operation:
                walk(operation["requestBody"]["content"]["application/json"]["schema"], f"{method} {path} body")
    return found


def test_every_string_a_request_carries_is_constrained_in_the_schema(api: TestClient) -> None:
    """No string reaches the server unchecked: each states a pattern (NUL-free at least), a
    fixed set of values, or a format; the mapping keys too."""
    loose = [
        where
        for where, schema in _request_schemas(document(api))
        if schema.get("type") == "string"
        and not schema["constrained"]
        and not {"pattern", "enum", "const", "format"} & schema.keys()
    ]
    assert loose == []


def test_the_schema_uses_only_json_schema_words_for_limits(api: TestClient) -> None:
    """pydantic writes its own ``ge``/``le`` where it cannot place a limit; a client ignores them."""
    misplaced = [
        where
        for where, schema in _request_schemas(document(api))
        if {"ge", "le", "gt", "lt"} & schema.keys() and not where.endswith(".properties")
    ]
    assert misplaced == []
