"""Bad input at the edge (issue 10): NUL anywhere and values past a limit are a 422 naming the
field, the same on SQLite and PostgreSQL, and what is accepted is what the scheduler can place."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container
from suanli.domain import limits
from tests.integration.agent_api.conftest import register
from tests.integration.api.conftest import API, center, fields, job, job_count, pool, problem

NUL = "a\x00b"


def nul_problem(response: Any, field: str) -> None:
    body = problem(response, 422)
    assert field in fields(body), body
    assert "NUL" in body["detail"] and "Traceback" not in response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": NUL}, "name"),
        ({"command": NUL}, "command"),
        ({"command": ["python", NUL]}, "command"),
        ({"env": {"V": NUL}}, "env.V"),
        ({"labels": {"team": NUL}}, "labels.team"),
        ({"labels": {NUL: "x"}}, "labels['a\\x00b'][key]"),
        ({"workdir": NUL}, "workdir"),
        ({"constraints": {"regions": [NUL]}}, "constraints.regions[0]"),
        ({"resources": {"accelerators": [{"model": NUL, "count": 1}]}}, "resources.accelerators[0].model"),
    ],
)
def test_nul_in_a_job_is_a_422_naming_the_field(
    api: TestClient, container: Container, change: dict[str, Any], field: str
) -> None:
    nul_problem(api.post(f"{API}/jobs", json={**job(), **change}), field)
    nul_problem(api.post(f"{API}/jobs/batch", json={"jobs": [job("ok"), {**job(), **change}]}), f"jobs[1].{field}")
    assert job_count(container) == 0


def test_nul_in_an_idempotency_key_of_a_batch(api: TestClient, container: Container) -> None:
    nul_problem(api.post(f"{API}/jobs/batch", json={"jobs": [job(idempotency_key=NUL)]}), "jobs[0].idempotency_key")
    assert job_count(container) == 0


def test_a_lone_surrogate_is_refused_like_nul(api: TestClient, container: Container) -> None:
    body = b'{"name": "\\ud800", "command": "true"}'  # json.loads takes it; no database can store it
    refused = problem(api.post(f"{API}/jobs", content=body, headers={"content-type": "application/json"}), 422)
    assert fields(refused) == ["name"] and "string" in refused["detail"]
    assert job_count(container) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"owner": NUL}, "owner"),
        ({"region": NUL}, "region"),
        ({"pools": [pool(accelerator=NUL)]}, "pools[0].accelerator"),
    ],
)
def test_nul_in_a_center_is_a_422(api: TestClient, change: dict[str, Any], field: str) -> None:
    nul_problem(api.post(f"{API}/centers", json={**center("qd"), **change}), field)
    assert api.get(f"{API}/centers").json()["centers"] == []


def test_nul_in_pools_of_an_update(api: TestClient) -> None:
    api.post(f"{API}/centers", json=center("qd"))
    nul_problem(api.put(f"{API}/centers/qd/pools", json={"pools": [pool(accelerator=NUL)]}), "pools[0].accelerator")
    assert api.get(f"{API}/centers/qd").json()["pools"][0]["accelerator"] == "A100-80G"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"name": NUL}, "name"),
        ({"center": NUL}, "center"),
        ({"label": f"team={NUL}"}, "label"),
        ({"label": f"{NUL}=x"}, "label"),
        ({"status": NUL}, "status"),
        ({"cursor": NUL}, "cursor"),
        ({NUL: "x"}, "'a\\x00b'"),
    ],
)
def test_nul_in_a_query_parameter_is_a_422_naming_it(api: TestClient, params: dict[str, str], field: str) -> None:
    api.post(f"{API}/jobs", json=job())
    nul_problem(api.get(f"{API}/jobs", params=params), field)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/centers/{}"),
        ("POST", "/centers/{}/drain"),
        ("DELETE", "/centers/{}"),
        ("POST", "/centers/{}/tokens"),
        ("GET", "/jobs/{}"),
        ("POST", "/jobs/{}/cancel"),
        ("GET", "/jobs/{}/logs"),
    ],
)
def test_nul_in_a_path_parameter_is_a_422_naming_it(api: TestClient, method: str, path: str) -> None:
    api.post(f"{API}/centers", json=center("qd"))
    name = "name" if path.startswith("/centers") else "job_id"
    nul_problem(api.request(method, API + path.format(quote("qd\x00"))), name)
    assert api.get(f"{API}/centers/qd").json()["state"] == "ONLINE"


def test_nul_in_agent_messages_is_a_422_and_changes_nothing(api: TestClient, container: Container) -> None:
    agent = register(api, "qd", pool())
    hello = {"protocol": 1, "agent_version": NUL, "pools": [pool()], "running": []}
    nul_problem(api.post(f"{API}/agent/hello", json=hello, headers=agent.auth), "agent_version")
    nul_problem(agent.heartbeat(problem=NUL), "problem")
    assert api.get(f"{API}/centers/qd").json()["problem"] == ""

    job_id = api.post(f"{API}/jobs", json=job("t", "A100:8")).json()["id"]
    container.loop.run_once()
    assert agent.poll().json()["assignments"][0]["job_id"] == job_id
    nul_problem(agent.report(job_id, 1, "FAILED", exit_code=1, message=NUL), "message")
    nul_problem(api.get(f"{API}/agent/assignments", params={"wait": 0, "x": NUL}, headers=agent.auth), "x")
    assert api.get(f"{API}/jobs/{job_id}").json()["status"] == "SCHEDULED"
    assert agent.report(job_id, 1, "FAILED", exit_code=1, message="a b").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"command": "x" * 1_000_000}, "command"),
        ({"command": ["python", "x" * 1_000_000]}, "command"),
        ({"env": {"BIG": "x" * 1_000_000}}, "env.BIG"),
        ({"env": {f"V{i}": "x" * 10_000 for i in range(8)}}, "env"),
        ({"labels": {"k" * 64: "v"}}, "labels"),
        ({"workdir": "/" + "d" * 5000}, "workdir"),
        ({"resources": {"cpus": 2000}}, "resources.cpus"),
        ({"time_limit": "400d"}, "time_limit"),
        ({"constraints": {"max_price_per_hour": 1e308}}, "constraints.max_price_per_hour"),
        ({"constraints": {"deadline": "0001-01-01T00:00:00+14:00"}}, "constraints.deadline"),
    ],
)
def test_values_past_a_limit_are_refused_at_submission(
    api: TestClient, container: Container, change: dict[str, Any], field: str
) -> None:
    body = problem(api.post(f"{API}/jobs", json={**job(), **change}), 422)
    assert any(f == field or f.startswith(f"{field}.") or f.startswith(f"{field}[") for f in fields(body)), body
    assert job_count(container) == 0


def test_a_deadline_that_cannot_be_met_is_refused_at_submission(api: TestClient, container: Container) -> None:
    past = problem(api.post(f"{API}/jobs", json=job(constraints={"deadline": "2001-01-01T00:00:00Z"})), 422)
    assert fields(past) == ["constraints.deadline"] and "already passed" in past["detail"]
    tight = job(time_limit="365d", constraints={"deadline": "2001-01-01T00:00:00Z"})
    assert fields(problem(api.post(f"{API}/jobs/batch", json={"jobs": [job(), tight]}), 422)) == [
        "jobs[1].constraints.deadline"
    ]
    assert job_count(container) == 0
    later = job(time_limit="1h", constraints={"deadline": "8999-01-01T00:00:00Z"})
    assert api.post(f"{API}/jobs", json=later).status_code == 201


AT_THE_LIMITS: list[dict[str, Any]] = [
    {"resources": {"cpus": limits.MAX_ACCELERATORS_PER_NODE}},
    {"resources": {"accelerators": f"A100:{limits.MAX_ACCELERATORS_PER_NODE}", "cpus": limits.MAX_CPUS_PER_NODE}},
    {"nodes": limits.MAX_NODES_PER_JOB, "resources": {"accelerators": "A100:8", "memory_gb": 1_000_000}},
    {"time_limit": limits.MAX_TIME_LIMIT_S, "priority": limits.MAX_PRIORITY, "max_retries": limits.MAX_RETRIES},
    {"constraints": {"max_price_per_hour": limits.MAX_JOB_PRICE_PER_HOUR, "deadline": "8999-12-31T00:00:00Z"}},
    {"priority": limits.MIN_PRIORITY, "time_limit": "365d", "constraints": {"deadline": "8999-12-31T00:00:00+14:00"}},
]


def test_jobs_at_every_limit_go_through_a_scheduling_cycle(api: TestClient, container: Container) -> None:
    """The scheduler builds a request for whatever submission accepts: the cycle runs clean."""
    dear = pool("dear", "A100", limits.MAX_ACCELERATORS_PER_NODE, 2, price=limits.MAX_PRICE_PER_ACCELERATOR_HOUR)
    cpus = {**pool("cpu", "CPU", limits.MAX_ACCELERATORS_PER_NODE, 2), "cpus_per_node": limits.MAX_CPUS_PER_NODE}
    big = {**center("qd", dear, cpus), "pools": [{**dear, "carbon_intensity": limits.MAX_CARBON_INTENSITY}, cpus]}
    assert api.post(f"{API}/centers", json=big).status_code == 201
    for i, change in enumerate(AT_THE_LIMITS):
        response = api.post(f"{API}/jobs", json={**job(f"edge-{i}", "A100:1"), **change})
        assert response.status_code == 201, response.text
    record = container.loop.run_once()
    assert record is not None and container.loop.last_error == ""
    listed = api.get(f"{API}/jobs").json()["jobs"]
    assert {j["status"] for j in listed} <= {"PENDING", "SCHEDULED"} and len(listed) == len(AT_THE_LIMITS)
    for listed_job in listed:
        assert api.get(f"{API}/jobs/{listed_job['id']}/explain").json()["reasons"]
