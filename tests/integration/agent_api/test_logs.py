"""Shipping an attempt's output in chunks (fenced, exactly once) and reading it back with offsets."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container
from tests.integration.agent_api.conftest import AGENT, Agent, register, submit
from tests.integration.api.conftest import API, pool, problem


@pytest.fixture
def agent(api: TestClient) -> Agent:
    agent = register(api, "qd-ai")
    assert agent.hello([pool()]).status_code == 200
    return agent


def placed(api: TestClient, container: Container, agent: Agent) -> int:
    job_id = submit(api)
    container.loop.run_once()
    assert [a["job_id"] for a in agent.poll().json()["assignments"]] == [job_id]
    return job_id


def ship(agent: Agent, job_id: int, attempt: int, offset: int, data: bytes) -> httpx.Response:
    return agent.api.post(
        f"{AGENT}/attempts/{job_id}/{attempt}/logs",
        params={"offset": offset},
        content=data,
        headers={**agent.auth, "Content-Type": "application/octet-stream"},
    )


def read(api: TestClient, job_id: int, **params: int) -> httpx.Response:
    response = api.get(f"{API}/jobs/{job_id}/logs", params=params)
    assert response.status_code == 200, response.text
    return response


def test_chunks_in_order_are_read_back_from_any_offset(api: TestClient, container: Container, agent: Agent) -> None:
    job_id = placed(api, container, agent)
    assert agent.report(job_id, 1, "RUNNING").status_code == 200
    for offset, chunk in [(0, b"epoch 1\n"), (8, b"epoch 2\n"), (16, b"done\n")]:
        shipped = ship(agent, job_id, 1, offset, chunk)
        assert shipped.status_code == 200, shipped.text
        assert shipped.json() == {"protocol": 1, "next_offset": offset + len(chunk)}

    whole = read(api, job_id)
    assert whole.text == "epoch 1\nepoch 2\ndone\n"
    assert whole.headers["content-type"] == "text/plain; charset=utf-8"
    assert whole.headers["X-Suanli-Next-Offset"] == "21"
    assert whole.headers["X-Suanli-Attempt"] == "1"
    assert whole.headers["X-Suanli-Attempt-Done"] == "false"  # still RUNNING

    middle = read(api, job_id, offset=4, limit=10)  # across a chunk boundary
    assert middle.text == "h 1\nepoch " and middle.headers["X-Suanli-Next-Offset"] == "14"
    assert read(api, job_id, offset=21).text == ""
    assert read(api, job_id, offset=99).headers["X-Suanli-Next-Offset"] == "99"

    assert agent.report(job_id, 1, "SUCCEEDED", exit_code=0).status_code == 200
    partial = read(api, job_id, attempt=1, offset=0, limit=5)
    assert partial.headers["X-Suanli-Attempt-Done"] == "false"  # ended, but bytes remain to be read
    rest = read(api, job_id, offset=5)
    assert rest.headers["X-Suanli-Attempt-Done"] == "true" and rest.headers["X-Suanli-Next-Offset"] == "21"
    raw = api.get(f"{API}/jobs/{job_id}/logs", headers={"Accept": "application/octet-stream"})
    assert raw.content == b"epoch 1\nepoch 2\ndone\n"
    assert raw.headers["content-type"] == "application/octet-stream"


def test_a_repeated_chunk_is_a_no_op_and_a_gap_says_where_to_resume(
    api: TestClient, container: Container, agent: Agent
) -> None:
    job_id = placed(api, container, agent)
    assert ship(agent, job_id, 1, 0, b"hello ").status_code == 200
    assert ship(agent, job_id, 1, 6, b"world\n").status_code == 200
    again = ship(agent, job_id, 1, 0, b"hello ")  # the answer was lost; the agent sends it again
    assert again.status_code == 200 and again.json()["next_offset"] == 12

    gap = ship(agent, job_id, 1, 20, b"lost?")
    body = problem(gap, 409)
    assert "send the log from offset 12" in body["detail"]
    assert gap.headers["X-Suanli-Expected-Offset"] == "12"
    overlap = ship(agent, job_id, 1, 6, b"world\nmore")  # overlaps the end: not stored twice
    assert problem(overlap, 409) and overlap.headers["X-Suanli-Expected-Offset"] == "12"
    assert read(api, job_id).text == "hello world\n"

    assert ship(agent, job_id, 1, 12, b"\xff\xfe bytes\n").status_code == 200
    assert read(api, job_id).text == "hello world\n\ufffd\ufffd bytes\n"  # invalid UTF-8 replaced


def test_logs_are_fenced_like_reports(api: TestClient, container: Container, agent: Agent) -> None:
    job_id = placed(api, container, agent)
    other = register(api, "sh-ai")
    assert other.hello([pool()]).status_code == 200
    problem(ship(other, job_id, 1, 0, b"not mine"), 403)
    problem(ship(agent, job_id, 2, 0, b"no such attempt"), 404)
    problem(ship(agent, job_id, 1, 0, b"x" * (1024 * 1024 + 1)), 413)

    assert agent.report(job_id, 1, "REFUSED", message="busy").status_code == 200
    container.loop.run_once()  # placed anew as attempt 2
    assert [a["attempt"] for a in agent.poll().json()["assignments"] + other.poll().json()["assignments"]] == [2]
    stale = problem(ship(agent, job_id, 1, 0, b"late"), 409)
    assert stale["detail"].startswith(f"stale attempt: job {job_id} is on attempt 2 now")
    old = read(api, job_id, attempt=1)
    assert old.text == "" and old.headers["X-Suanli-Attempt-Done"] == "true"
    assert read(api, job_id).headers["X-Suanli-Attempt"] == "2"
    assert api.get(f"{API}/jobs/{job_id}/logs", params={"attempt": 3}).status_code == 404
    assert api.get(f"{API}/jobs/999/logs").status_code == 404


def test_a_job_not_placed_yet_has_no_logs(api: TestClient) -> None:
    job_id = submit(api)
    empty = read(api, job_id)
    assert empty.text == "" and empty.headers["X-Suanli-Attempt"] == "0"
    assert empty.headers["X-Suanli-Attempt-Done"] == "false"
