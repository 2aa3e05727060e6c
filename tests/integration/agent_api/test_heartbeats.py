"""A center whose agent falls silent goes OFFLINE; its work is LOST and runs elsewhere; the old
attempt's late reports are fenced off; the agent, back again, is told what to kill."""

from __future__ import annotations

from fastapi.testclient import TestClient

from suanli.composition import Container, build_container
from suanli.domain.centers import CenterState
from suanli.settings import Settings
from tests.integration.agent_api.conftest import ManualClock, attempts, job, register, submit
from tests.integration.api.conftest import API, pool, problem


def state_of(api: TestClient, center: str) -> str:
    return str(api.get(f"{API}/centers/{center}").json()["state"])


def test_a_silent_center_loses_its_job_to_another_and_its_late_success_is_refused(
    api: TestClient, container: Container, clock: ManualClock
) -> None:
    lost = register(api, "qd-ai")
    assert lost.hello([pool()]).status_code == 200
    job_id = submit(api, max_retries=1)
    container.loop.run_once()
    assert [a["job_id"] for a in lost.poll().json()["assignments"]] == [job_id]
    assert lost.report(job_id, 1, "RUNNING").status_code == 200
    running = [{"job_id": job_id, "attempt": 1}]

    spare = register(api, "bj-ai")  # registered by an operator; its agent has not said hello
    clock.advance(20)
    assert lost.heartbeat(running).json()["kill"] == []
    container.loop.run_once()
    assert state_of(api, "qd-ai") == "ONLINE"  # 20 s of silence is within the 30 s allowed

    clock.advance(31)
    container.loop.run_once()  # the silent center goes OFFLINE; the same cycle places the job again
    assert state_of(api, "qd-ai") == "OFFLINE"
    assert state_of(api, "bj-ai") == "ONLINE"  # never had an agent: never declared silent
    shown = job(api, job_id)
    assert shown["status"] == "SCHEDULED" and shown["attempts"] == 2
    assert shown["placement"]["center"] == "bj-ai"
    timeline = attempts(api, job_id)
    assert [(a["attempt"], a["center"], a["state"]) for a in timeline] == [
        (1, "qd-ai", "LOST"),
        (2, "bj-ai", "ASSIGNED"),
    ]
    assert "not heard from for 30 s" in timeline[0]["message"]

    late = problem(lost.report(job_id, 1, "SUCCEEDED", exit_code=0), 409)
    assert f"job {job_id} is on attempt 2 now" in late["detail"]
    assert job(api, job_id)["status"] == "SCHEDULED"

    back = lost.hello([pool()], running)  # the agent reconnects, still running the old attempt
    assert back.json()["kill"] == running
    assert state_of(api, "qd-ai") == "ONLINE"
    assert [a["job_id"] for a in spare.poll().json()["assignments"]] == [job_id]
    assert spare.report(job_id, 2, "SUCCEEDED", exit_code=0).status_code == 200
    assert job(api, job_id)["status"] == "SUCCEEDED"


def test_without_retries_left_a_lost_job_fails_and_says_why(
    api: TestClient, container: Container, clock: ManualClock
) -> None:
    agent = register(api, "qd-ai")
    agent.hello([pool()])
    job_id = submit(api)  # max_retries 0
    container.loop.run_once()
    agent.poll()
    clock.advance(31)
    container.loop.run_once()
    shown = job(api, job_id)
    assert shown["status"] == "FAILED"
    assert "no retries are left (max_retries 0)" in shown["message"]
    assert attempts(api, job_id)[0]["state"] == "LOST"


def test_an_agent_that_restarts_without_its_attempts_gives_them_back(api: TestClient, container: Container) -> None:
    agent = register(api, "qd-ai")
    agent.hello([pool()])
    job_id = submit(api, max_retries=2)
    container.loop.run_once()
    agent.poll()
    assert agent.report(job_id, 1, "RUNNING").status_code == 200
    assert agent.hello([pool()], []).json()["kill"] == []  # restarted, runs nothing
    shown = job(api, job_id)
    assert shown["status"] == "PENDING" and "restarted without attempt 1" in shown["message"]
    container.loop.run_once()
    assert [(a["job_id"], a["attempt"]) for a in agent.poll().json()["assignments"]] == [(job_id, 2)]


def test_a_hello_after_a_lost_poll_answer_hands_the_attempt_out_again(api: TestClient, container: Container) -> None:
    """The poll's answer carried the assignment but never arrived (a proxy answered 502): the
    agent says hello without it. Nothing ran, so the same attempt is handed out again; with
    max_retries 0 the job must not fail, and no retry is burned."""
    agent = register(api, "qd-ai")
    agent.hello([pool()])
    job_id = submit(api)  # max_retries 0
    container.loop.run_once()
    assert [a["job_id"] for a in agent.poll().json()["assignments"]] == [job_id]  # lost on the way
    assert agent.hello([pool()], []).json()["kill"] == []
    assert job(api, job_id)["status"] == "SCHEDULED"
    again = agent.poll().json()["assignments"]
    assert [(a["job_id"], a["attempt"]) for a in again] == [(job_id, 1)]
    assert agent.report(job_id, 1, "SUCCEEDED", exit_code=0).status_code == 200
    shown = job(api, job_id)
    assert shown["status"] == "SUCCEEDED" and shown["attempts"] == 1
    assert [a["state"] for a in attempts(api, job_id)] == ["SUCCEEDED"]


def test_a_restarted_server_gives_agents_a_full_period_before_judging_them(
    api: TestClient, container: Container, settings: Settings, clock: ManualClock
) -> None:
    agent = register(api, "qd-ai")
    assert agent.hello([pool()]).status_code == 200
    container.close()  # the server goes down; its agent's heartbeats reach nobody
    clock.advance(60)
    restarted = build_container(settings, clock)
    try:
        restarted.loop.run_once()
        assert restarted.centers.get("qd-ai").state is CenterState.ONLINE  # not judged on the outage
        clock.advance(31)
        restarted.loop.run_once()  # a full period after the restart, still silent: now it is
        assert restarted.centers.get("qd-ai").state is CenterState.OFFLINE
    finally:
        restarted.close()


def test_an_assignment_whose_delivery_was_lost_is_handed_out_again_under_the_same_number(
    api: TestClient, container: Container, clock: ManualClock
) -> None:
    agent = register(api, "qd-ai")
    assert agent.hello([pool()]).status_code == 200
    job_id = submit(api)
    container.loop.run_once()
    assert [a["job_id"] for a in agent.poll().json()["assignments"]] == [job_id]  # its answer never arrives

    heartbeat_s = container.settings.agent_heartbeat_s
    clock.advance(heartbeat_s / 2)
    assert agent.heartbeat([]).status_code == 200  # too soon to tell: the agent may be starting it
    assert agent.poll().json()["assignments"] == []

    clock.advance(heartbeat_s)
    assert agent.heartbeat([]).json()["kill"] == []  # a heartbeat period on, the agent still lacks it
    again = agent.poll().json()["assignments"]
    assert [(a["job_id"], a["attempt"]) for a in again] == [(job_id, 1)]
    assert [(a["attempt"], a["state"]) for a in attempts(api, job_id)] == [(1, "ASSIGNED")]

    running = [{"job_id": job_id, "attempt": 1}]
    clock.advance(2 * heartbeat_s)
    assert agent.heartbeat(running).json()["kill"] == []  # it has it now: nothing is sent again
    assert agent.poll().json()["assignments"] == []
    assert agent.report(job_id, 1, "RUNNING").status_code == 200
    clock.advance(2 * heartbeat_s)
    assert agent.heartbeat([]).status_code == 200  # a started attempt is never handed out again
    assert agent.poll().json()["assignments"] == []


def test_a_center_whose_backend_is_down_takes_no_new_work_until_it_recovers(
    api: TestClient, container: Container
) -> None:
    agent = register(api, "hpc")
    assert agent.hello([pool()]).status_code == 200
    running_id = submit(api)
    container.loop.run_once()
    assert agent.report(running_id, 1, "RUNNING").status_code == 200
    running = [{"job_id": running_id, "attempt": 1}]

    problem = "slurmctld does not answer: sinfo timed out after 10 s"
    assert agent.heartbeat(running, problem=problem).json()["kill"] == []
    shown = api.get(f"{API}/centers/hpc").json()
    assert (shown["state"], shown["problem"]) == ("ONLINE", problem)
    waiting = submit(api)
    container.loop.run_once()
    assert job(api, waiting)["status"] == "PENDING"
    explained = " ".join(api.get(f"{API}/jobs/{waiting}/explain").json()["reasons"])
    assert "UNHEALTHY" in explained
    assert job(api, running_id)["status"] == "RUNNING"  # what runs there is kept, not lost

    assert agent.heartbeat(running).status_code == 200  # healthy again
    assert api.get(f"{API}/centers/hpc").json()["problem"] == ""
    container.loop.run_once()
    assert job(api, waiting)["status"] == "SCHEDULED"
