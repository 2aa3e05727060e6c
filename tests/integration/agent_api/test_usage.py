"""Usage records written by every path that ends an attempt, driven through the real API and the
agents' protocol on a clock the test moves; checkpoints of long runs; idempotency.

After each scenario ``metering_problems`` compares the attempts with the records in the database:
an ending path that forgot its record (or wrote two) fails it, whichever path that is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from suanli.adapters.storage import usage_rows as writer
from suanli.composition import Container
from suanli.domain.attempts import AttemptState
from suanli.domain.errors import StaleVersion
from suanli.domain.job_status import JobStatus
from tests.clocks import ManualClock
from tests.integration.agent_api.conftest import Agent, attempts, job, register, submit
from tests.integration.api.conftest import API, pool
from tests.metering import metering_problems, usage_rows

HOUR = 3600


def engine_of(container: Container) -> Engine:
    return container.store.engine


def records_of(container: Container, job_id: int) -> list[Any]:
    return [r for r in usage_rows(engine_of(container)) if r.job_id == job_id]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def check(container: Container) -> None:
    assert metering_problems(engine_of(container)) == []


@pytest.fixture
def agent(api: TestClient) -> Agent:
    agent = register(api, "qd-ai")
    assert agent.hello([pool()]).status_code == 200
    return agent


def started(api: TestClient, container: Container, agent: Agent, **extra: Any) -> int:
    """A job placed on the agent's center, taken, and reported RUNNING; its id."""
    job_id = submit(api, **extra)
    container.loop.run_once()
    assert [a["job_id"] for a in agent.poll().json()["assignments"]] == [job_id]
    assert agent.report(job_id, 1, "RUNNING").status_code == 200
    return job_id


@pytest.mark.parametrize(("state", "exit_code"), [("SUCCEEDED", 0), ("FAILED", 3)])
def test_a_reported_end_writes_one_final_record_of_what_the_attempt_held(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent, state: str, exit_code: int
) -> None:
    job_id = started(api, container, agent, nodes=2, resources={"accelerators": "A100:8", "cpus": 12, "memory_gb": 96})
    clock.advance(90)
    assert agent.report(job_id, 1, state, exit_code=exit_code).status_code == 200
    assert agent.report(job_id, 1, state, exit_code=exit_code).status_code == 200  # the same report again
    (record,) = records_of(container, job_id)
    (attempt,) = attempts(api, job_id)
    assert record.interval_start == moment(attempt["started_at"])
    assert record.interval_end == moment(attempt["ended_at"])
    assert (record.seconds, record.reason, record.attempt) == (90, state, 1)
    assert (record.organization, record.project, record.center, record.center_organization) == (
        "default",
        "default",
        "qd-ai",
        "default",
    )
    # a gang of 2 nodes x 8 accelerators, 12 cores and 96 GB on each
    assert (record.pool, record.accelerator, record.accelerators, record.cpus, record.memory_gb) == (
        "gpu",
        "A100-80G",
        16,
        24,
        192.0,
    )
    check(container)


def test_a_running_job_cancelled_is_metered_until_its_agent_stopped_it(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    clock.advance(30)
    assert api.post(f"{API}/jobs/{job_id}/cancel").status_code == 200
    assert records_of(container, job_id) == []  # still running at the center
    assert agent.poll().json()["cancel"] == [{"job_id": job_id, "attempt": 1}]
    clock.advance(5)
    assert agent.report(job_id, 1, "CANCELLED").status_code == 200
    (record,) = records_of(container, job_id)
    assert (record.reason, record.seconds) == ("CANCELLED", 35)
    check(container)


def test_a_silent_center_loses_its_attempt_metered_until_it_was_last_heard_from(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    clock.advance(10)
    assert agent.heartbeat([{"job_id": job_id, "attempt": 1}]).status_code == 200  # the last sign of life
    last_seen = clock.now()
    clock.advance(31)
    container.loop.run_once()  # the center goes OFFLINE, the attempt LOST
    (attempt,) = [a for a in attempts(api, job_id) if a["attempt"] == 1]
    assert attempt["state"] == "LOST" and moment(attempt["ended_at"]) == clock.now()
    (record,) = records_of(container, job_id)
    assert (record.reason, record.interval_end, record.seconds) == ("LOST", last_seen, 10)
    assert record.recorded_at == clock.now()  # written when it was declared lost
    check(container)


def test_an_agent_back_without_its_attempt_loses_it_metered_until_it_said_hello(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    clock.advance(20)
    assert agent.hello([pool()], running=[]).status_code == 200  # restarted; the attempt is gone
    (record,) = records_of(container, job_id)
    assert (record.reason, record.seconds) == ("LOST", 20)  # hello is its last sign of life
    check(container)


def test_attempts_that_never_started_have_no_usage(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    refused = submit(api, name="refused")
    container.loop.run_once()
    agent.poll()
    assert agent.report(refused, 1, "REFUSED", message="the pool shrank").status_code == 200

    untaken = submit(api, name="untaken", resources={"accelerators": "A100:1"})
    container.loop.run_once()
    assert api.post(f"{API}/jobs/{untaken}/cancel").status_code == 200
    agent.poll()  # the attempt nobody took is CANCELLED as it is claimed

    lost = submit(api, name="lost-before-start", resources={"accelerators": "A100:1"})
    container.loop.run_once()
    agent.poll()
    clock.advance(31)
    container.loop.run_once()
    states = {j: [a["state"] for a in attempts(api, j)] for j in (refused, untaken, lost)}
    assert states[untaken] == ["CANCELLED"] and states[lost][0] == "LOST" and states[refused][0] == "REFUSED"
    assert usage_rows(engine_of(container)) == []
    check(container)


def test_a_long_run_is_metered_hourly_and_its_records_tile_its_run(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    running = [{"job_id": job_id, "attempt": 1}]
    for _ in range(15):  # 2.5 h in steps of 10 minutes, the agent heartbeating
        clock.advance(600)
        assert agent.heartbeat(running).json()["kill"] == []
        container.loop.run_once()
        check(container)  # while it runs too: only checkpoints, tiled from its start
    assert [(r.reason, r.seconds) for r in records_of(container, job_id)] == [("checkpoint", HOUR)] * 2
    assert agent.report(job_id, 1, "SUCCEEDED", exit_code=0).status_code == 200
    records = records_of(container, job_id)
    assert [(r.reason, r.seconds) for r in records] == [("checkpoint", HOUR), ("checkpoint", HOUR), ("SUCCEEDED", 1800)]
    (attempt,) = attempts(api, job_id)
    ran = moment(attempt["ended_at"]) - moment(attempt["started_at"])
    assert sum(r.seconds for r in records) == ran.total_seconds() == 2.5 * HOUR
    check(container)


def test_a_checkpoint_then_a_silent_center_ends_the_lost_attempt_after_the_checkpoint(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    running = [{"job_id": job_id, "attempt": 1}]
    for _ in range(7):  # 70 minutes: one checkpoint at the hour
        clock.advance(600)
        agent.heartbeat(running)
        container.loop.run_once()
    clock.advance(31)
    container.loop.run_once()
    records = records_of(container, job_id)
    assert [(r.reason, r.seconds) for r in records] == [("checkpoint", HOUR), ("LOST", 600)]
    check(container)


def test_an_ending_written_again_adds_nothing(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    clock.advance(HOUR)
    agent.heartbeat([{"job_id": job_id, "attempt": 1}])
    assert container.usage.store.write_checkpoints(clock.now(), HOUR) == 1
    clock.advance(60)
    assert agent.report(job_id, 1, "SUCCEEDED", exit_code=0).status_code == 200
    before = usage_rows(engine_of(container))
    assert [r.reason for r in before] == ["checkpoint", "SUCCEEDED"]
    with container.store._write() as connection:  # the writer itself, as a retried transaction would call it
        assert writer.record_attempt_end(connection, job_id, 1) is False
        assert writer.write_checkpoints(connection, clock.now() + timedelta(days=1), 1, lock=False) == 0
    assert usage_rows(engine_of(container)) == before
    check(container)


def test_checkpoints_written_twice_for_the_same_moment_are_one(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    clock.advance(HOUR)
    agent.heartbeat([{"job_id": job_id, "attempt": 1}])
    store = container.usage.store
    assert store.write_checkpoints(clock.now(), HOUR) == 1
    assert store.write_checkpoints(clock.now(), HOUR) == 0
    assert [r.reason for r in records_of(container, job_id)] == ["checkpoint"]
    check(container)


def test_an_ending_whose_transaction_rolls_back_leaves_no_record_and_its_retry_one(
    api: TestClient, container: Container, clock: ManualClock, agent: Agent
) -> None:
    job_id = started(api, container, agent)
    clock.advance(60)
    agents = container.agents.agents
    attempt = agents.get_attempt(job_id, 1)
    shown = container.store.get_job(job_id)
    assert attempt is not None
    done = attempt.transitioned(AttemptState.SUCCEEDED, clock.now(), exit_code=0)
    finished = shown.transitioned(JobStatus.SUCCEEDED, clock.now())
    with pytest.raises(StaleVersion):  # the job changed meanwhile: the whole transaction goes
        agents.save_attempt(done, AttemptState.RUNNING, finished, shown.version + 1)
    assert records_of(container, job_id) == []
    assert agents.get_attempt(job_id, 1).state is AttemptState.RUNNING  # type: ignore[union-attr]
    agents.save_attempt(done, AttemptState.RUNNING, finished, shown.version)
    assert [(r.reason, r.seconds) for r in records_of(container, job_id)] == [("SUCCEEDED", 60)]
    assert job(api, job_id)["status"] == "SUCCEEDED"
    check(container)
