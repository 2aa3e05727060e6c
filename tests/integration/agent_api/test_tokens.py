"""Center tokens: minted once, stored hashed, good for their own center only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from suanli.adapters.storage.tables import center_tokens
from suanli.composition import Container
from tests.integration.agent_api.conftest import AGENT, Agent, register, submit
from tests.integration.api.conftest import API, pool, problem


def test_a_token_is_shown_once_and_stored_only_as_a_hash(api: TestClient, container: Container) -> None:
    agent = register(api, "qd-ai")
    assert agent.token.startswith("sl_") and len(agent.token) > 40
    second = api.post(f"{API}/centers/qd-ai/tokens").json()["token"]
    assert second != agent.token
    with container.store.engine.connect() as connection:
        stored = connection.execute(select(center_tokens.c.token_hash, center_tokens.c.center)).all()
    assert len(stored) == 2 and {row.center for row in stored} == {"qd-ai"}
    assert all(agent.token not in row.token_hash and len(row.token_hash) == 64 for row in stored)
    assert agent.heartbeat().status_code == 200  # both tokens work
    assert Agent(api, second).heartbeat().status_code == 200


def test_a_token_for_an_unknown_center_is_not_minted(api: TestClient) -> None:
    assert "nowhere" in problem(api.post(f"{API}/centers/nowhere/tokens"), 404)["detail"]


def test_requests_without_a_valid_token_are_refused(api: TestClient) -> None:
    agent = register(api, "qd-ai")
    missing = api.post(f"{AGENT}/heartbeat", json={"protocol": 1, "running": []}, headers={"Authorization": ""})
    body = problem(missing, 401)
    assert "Authorization: Bearer" in body["detail"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    problem(Agent(api, agent.token + "x").heartbeat(), 401)
    problem(Agent(api, "").poll(), 401)
    basic = api.get(f"{AGENT}/assignments", headers={"Authorization": f"Basic {agent.token}"})
    problem(basic, 401)


def test_a_token_of_one_center_cannot_touch_another_centers_attempt(api: TestClient, container: Container) -> None:
    owner = register(api, "qd-ai")
    other = register(api, "bj-cpu", pool("cpu", "CPU", per_node=64, nodes=1))
    job_id = submit(api)
    container.loop.run_once()
    assert [a["job_id"] for a in owner.poll().json()["assignments"]] == [job_id]
    assert other.poll().json()["assignments"] == []
    body = problem(other.report(job_id, 1, "SUCCEEDED", exit_code=0), 403)
    assert "bj-cpu" in body["detail"]
    assert api.get(f"{API}/jobs/{job_id}").json()["status"] == "SCHEDULED"
    # Nor can it make the owner kill its work: a foreign attempt it reports is simply not its own.
    assert other.heartbeat([{"job_id": job_id, "attempt": 1}]).json()["kill"] == [{"job_id": job_id, "attempt": 1}]
    assert owner.heartbeat([{"job_id": job_id, "attempt": 1}]).json()["kill"] == []


def test_a_deleted_centers_token_stops_working(api: TestClient) -> None:
    agent = register(api, "qd-ai")
    assert api.delete(f"{API}/centers/qd-ai").status_code == 204
    problem(agent.heartbeat(), 401)


def test_rotating_revokes_the_older_tokens_and_keeps_the_new_one(api: TestClient) -> None:
    first = register(api, "qd-ai")
    second = Agent(api, api.post(f"{API}/centers/qd-ai/tokens").json()["token"])
    other = register(api, "bj-ai")
    rotated = api.post(f"{API}/centers/qd-ai/tokens", params={"rotate": "true"})
    assert rotated.status_code == 201 and rotated.json()["revoked"] == 2
    problem(first.heartbeat(), 401)
    problem(second.heartbeat(), 401)
    assert Agent(api, rotated.json()["token"]).heartbeat().status_code == 200
    assert other.heartbeat().status_code == 200  # another center's token is untouched


def test_revoking_refuses_the_centers_agent_and_keeps_the_center(api: TestClient) -> None:
    agent = register(api, "qd-ai")
    revoked = api.delete(f"{API}/centers/qd-ai/tokens")
    assert revoked.status_code == 200 and revoked.json() == {"center": "qd-ai", "revoked": 1}
    problem(agent.heartbeat(), 401)
    assert api.get(f"{API}/centers/qd-ai").status_code == 200
    assert api.delete(f"{API}/centers/qd-ai/tokens").json()["revoked"] == 0  # nothing left: still fine
    assert "nowhere" in problem(api.delete(f"{API}/centers/nowhere/tokens"), 404)["detail"]
    assert "nowhere" in problem(api.post(f"{API}/centers/nowhere/tokens", params={"rotate": "true"}), 404)["detail"]
