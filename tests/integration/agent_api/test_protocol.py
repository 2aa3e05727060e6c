"""Hello, long-poll delivery, state reports (with fencing) and cancellation, as an agent sees them."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from suanli.adapters.api.routes.agent import MAX_WAIT_S
from suanli.composition import Container
from tests.integration.agent_api.conftest import AGENT, Agent, attempts, job, register, submit
from tests.integration.api.conftest import API, pool, problem
from tests.waiting import finishes

# Long polls here wait as long as a poll may: one that answers within a third of that was woken by
# what it waited for, not by its timeout. The third is a guard against hanging, never a timer
# (how fast an agent gets its work is measured in benchmarks/bench_agent_latency.py).
GUARD_S = MAX_WAIT_S / 3


@pytest.fixture
def agent(api: TestClient) -> Agent:
    agent = register(api, "qd-ai")
    assert agent.hello([pool()]).status_code == 200
    return agent


def placed(api: TestClient, container: Container, agent: Agent, **extra: Any) -> int:
    """A job submitted, placed on the agent's center and delivered to it; its id."""
    job_id = submit(api, **extra)
    container.loop.run_once()
    delivered = agent.poll().json()["assignments"]
    assert [a["job_id"] for a in delivered] == [job_id]
    return job_id


def test_hello_replaces_the_pools_and_gives_the_timing(api: TestClient) -> None:
    agent = register(api, "qd-ai")
    reported = [pool("h100", "H100", per_node=4, nodes=3), pool("cpu", "CPU", per_node=32, nodes=1)]
    response = agent.hello(reported)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"protocol": 1, "center": "qd-ai", "heartbeat_s": 5.0, "offline_after_s": 30.0, "kill": []}
    shown = api.get(f"{API}/centers/qd-ai").json()
    assert [(p["name"], p["accelerator"], p["total_accelerators"]) for p in shown["pools"]] == [
        ("h100", "H100", 12),
        ("cpu", "CPU", 32),
    ]


def test_another_protocol_version_is_refused_clearly(api: TestClient) -> None:
    agent = register(api, "qd-ai")
    body = {"protocol": 2, "agent_version": "future", "pools": [pool()], "running": []}
    refused = problem(api.post(f"{AGENT}/hello", json=body, headers=agent.auth), 400)
    assert "protocol 1" in refused["detail"] and "sent 2" in refused["detail"]
    problem(api.post(f"{AGENT}/heartbeat", json={"protocol": 0, "running": []}, headers=agent.auth), 400)
    problem(api.get(f"{AGENT}/assignments", params={"protocol": 3}, headers=agent.auth), 400)


def test_a_placed_job_reaches_a_waiting_long_poll_at_once_and_only_once(
    api: TestClient, container: Container, agent: Agent
) -> None:
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(agent.poll(wait=MAX_WAIT_S)))
    waiting.start()
    time.sleep(0.2)  # the poll is waiting now
    job_id = submit(api, env={"SEED": "1"}, time_limit="1h", max_retries=1)
    container.loop.run_once()
    waiting.join(GUARD_S)
    assert answers, "the long poll did not answer: it waits for its timeout instead of the placement"
    body = answers[0].json()
    assert body["cancel"] == [] and body["protocol"] == 1
    (assignment,) = body["assignments"]
    assert len(assignment.pop("node_indices")) == 1  # which node is the scheduler's choice
    assert assignment == {
        "job_id": job_id,
        "attempt": 1,
        "name": "train",
        "command": ["python", "train.py"],
        "env": {"SEED": "1"},
        "workdir": None,
        "pool": "gpu",
        "accelerator": "A100-80G",  # the catalog's name for what the pool declared as A100
        "accelerators_per_node": 8,
        "nodes": 1,
        "time_limit": 3600.0,
    }
    assert agent.poll().json()["assignments"] == []  # delivered once
    assert attempts(api, job_id)[0]["state"] == "ASSIGNED"


def test_an_empty_poll_answers_empty_when_its_wait_ends(api: TestClient, agent: Agent) -> None:
    # That a poll waits for work is shown above (it answers with a job placed while it waited).
    assert agent.poll(wait=0.5).json() == {"protocol": 1, "assignments": [], "cancel": []}
    problem(agent.poll(wait=MAX_WAIT_S + 1), 422)


def test_running_then_succeeded_moves_the_job_and_the_attempt(
    api: TestClient, container: Container, agent: Agent
) -> None:
    job_id = placed(api, container, agent)
    running = agent.report(job_id, 1, "RUNNING")
    assert running.status_code == 200, running.text
    assert running.json()["state"] == "RUNNING"
    assert job(api, job_id)["status"] == "RUNNING"
    done = agent.report(job_id, 1, "SUCCEEDED", exit_code=0)
    assert done.status_code == 200, done.text
    shown = job(api, job_id)
    assert shown["status"] == "SUCCEEDED" and shown["message"] == "exit code 0"
    again = agent.report(job_id, 1, "SUCCEEDED", exit_code=0)  # a retried report changes nothing
    assert again.status_code == 200 and job(api, job_id) == shown
    (timeline,) = attempts(api, job_id)
    assert timeline["center"] == "qd-ai" and timeline["state"] == "SUCCEEDED" and timeline["exit_code"] == 0
    assert timeline["started_at"] and timeline["ended_at"]


def test_a_failure_keeps_its_exit_code_and_reason(api: TestClient, container: Container, agent: Agent) -> None:
    job_id = placed(api, container, agent)
    assert agent.report(job_id, 1, "FAILED", exit_code=3, message="loss became NaN").status_code == 200
    shown = job(api, job_id)
    assert shown["status"] == "FAILED" and shown["message"] == "exit code 3; loss became NaN"
    assert attempts(api, job_id)[0]["exit_code"] == 3
    problem(agent.report(job_id, 1, "RUNNING"), 409)  # an ended attempt does not start again


@pytest.mark.parametrize(
    "body",
    [
        {"protocol": 1, "state": "EXPLODED"},
        {"protocol": 1, "state": "SUCCEEDED", "exit_code": "0"},
        {"protocol": 1, "state": "SUCCEEDED", "exit_code": 0, "colour": "blue"},
        {"state": "SUCCEEDED"},
        {"protocol": 1, "state": "LOST"},  # the server decides what is lost, not the agent
        {"protocol": 1, "state": "RUNNING", "message": 5},
    ],
)
def test_a_malformed_report_is_refused_and_changes_nothing(
    api: TestClient, container: Container, agent: Agent, body: dict[str, Any]
) -> None:
    job_id = placed(api, container, agent)
    before = job(api, job_id)
    response = api.post(f"{AGENT}/attempts/{job_id}/1/state", json=body, headers=agent.auth)
    problem(response, 422)
    assert job(api, job_id) == before
    assert attempts(api, job_id)[0]["state"] == "ASSIGNED"


def test_a_refusal_puts_the_job_back_with_the_reason_and_fences_the_old_attempt(
    api: TestClient, container: Container, agent: Agent
) -> None:
    job_id = placed(api, container, agent)
    refused = agent.report(job_id, 1, "REFUSED", message="node 0 is down for maintenance")
    assert refused.status_code == 200, refused.text
    shown = job(api, job_id)
    assert shown["status"] == "PENDING" and shown["placement"] is None
    assert "node 0 is down for maintenance" in shown["message"]
    container.loop.run_once()  # the capacity it held is free again: placed anew as attempt 2
    assert [(a["job_id"], a["attempt"]) for a in agent.poll().json()["assignments"]] == [(job_id, 2)]
    before = job(api, job_id)
    stale = problem(agent.report(job_id, 1, "RUNNING"), 409)
    assert stale["detail"].startswith(f"stale attempt: job {job_id} is on attempt 2 now")
    assert job(api, job_id) == before
    assert [a["state"] for a in attempts(api, job_id)] == ["REFUSED", "ASSIGNED"]
    problem(agent.report(job_id, 3, "RUNNING"), 404)


def test_cancelling_a_running_job_tells_its_center_to_kill_it(
    api: TestClient, container: Container, agent: Agent
) -> None:
    job_id = placed(api, container, agent)
    assert agent.report(job_id, 1, "RUNNING").status_code == 200
    running = [{"job_id": job_id, "attempt": 1}]
    assert agent.heartbeat(running).json()["kill"] == []
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(agent.poll(wait=MAX_WAIT_S)))
    waiting.start()
    time.sleep(0.2)
    assert api.post(f"{API}/jobs/{job_id}/cancel").json()["status"] == "CANCELLED"
    waiting.join(GUARD_S)
    assert answers, "the long poll did not answer: it waits for its timeout instead of the cancel"
    assert answers[0].json()["cancel"] == running
    assert agent.heartbeat(running).json()["kill"] == running
    assert agent.report(job_id, 1, "CANCELLED", exit_code=-15).status_code == 200
    assert agent.heartbeat([]).json()["kill"] == []
    assert job(api, job_id)["message"] == "cancelled by the user"  # the user's reason stays
    assert attempts(api, job_id)[0]["state"] == "CANCELLED"


def test_work_placed_by_another_process_is_found_by_the_periodic_recheck(
    api: TestClient, container: Container, agent: Agent
) -> None:
    container.scheduling.on_placed = None  # as if the leader ran in another process: no in-process signal
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(agent.poll(wait=MAX_WAIT_S)))
    waiting.start()
    time.sleep(0.2)
    job_id = submit(api)
    container.loop.run_once()
    waiting.join(GUARD_S)
    assert answers, "the long poll did not answer: its periodic recheck did not find the placement"
    assert [a["job_id"] for a in answers[0].json()["assignments"]] == [job_id]


def test_with_the_scheduler_loop_running_an_idle_center_gets_a_submission(
    api: TestClient, container: Container, agent: Agent
) -> None:
    container.loop.start()
    job_id = submit(api)
    answer = finishes(lambda: agent.poll(wait=MAX_WAIT_S), "a long poll with a job to deliver", GUARD_S)
    assert [a["job_id"] for a in answer.json()["assignments"]] == [job_id]
