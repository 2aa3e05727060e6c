"""Two server processes on one PostgreSQL: exactly one schedules, and the other takes over when
the leader is killed (kill -9: no clean shutdown, its lock goes with its connection)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.storage.conftest import postgres_schema_url
from tests.servers import Server, start_server

pytestmark = pytest.mark.postgres

CENTER = {
    "name": "qd-ai-1",
    "owner": "Qingdao AI",
    "kind": "ai",
    "region": "qingdao",
    "pools": [
        {
            "name": "a100",
            "accelerator": "A100-80G",
            "accelerators_per_node": 8,
            "cpus_per_node": 64,
            "memory_gb_per_node": 512,
            "nodes": 100,
            "price_per_accelerator_hour": 18,
        }
    ],
}


def job(name: str) -> dict[str, object]:
    return {"name": name, "command": ["python", "train.py"], "resources": {"accelerators": ["A100-80G:1"]}}


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


def wait_for(condition, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {condition.__doc__ or condition}")


def leaders(servers: list[Server]) -> list[Server]:
    """the servers that report holding the scheduler lock"""
    return [s for s in servers if httpx.get(f"{s.url}/api/v1/health").json()["scheduler"]["leader"]]


def statuses(server: Server, auth: dict[str, str]) -> dict[str, str]:
    jobs = httpx.get(f"{server.url}/api/v1/jobs", params={"limit": 1000}, headers=auth).json()["jobs"]
    return {j["name"]: j["status"] for j in jobs}


def cycle_holders(database_url: str) -> list[tuple[str, float]]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT holder, started_at FROM scheduler_cycles ORDER BY started_at, id"))
        found = [(holder, started.timestamp()) for holder, started in rows]
    engine.dispose()
    return found


def test_one_leader_schedules_and_a_survivor_takes_over(database_url: str, tmp_path: Path) -> None:
    servers = [start_server(tmp_path / name, database_url=database_url) for name in ("a", "b")]
    try:
        auth = servers[0].headers  # the first server made the installation's admin token
        (leader,) = wait_for(lambda: len(leaders(servers)) == 1 and leaders(servers))
        (follower,) = [s for s in servers if s is not leader]
        # Work arrives through both processes; only the leader may place it.
        httpx.post(f"{follower.url}/api/v1/centers", json=CENTER, headers=auth).raise_for_status()
        for i in range(10):
            server = servers[i % 2]
            httpx.post(f"{server.url}/api/v1/jobs", json=job(f"before-{i}"), headers=auth).raise_for_status()
            time.sleep(0.05)
        wait_for(lambda: set(statuses(follower, auth).values()) == {"SCHEDULED"})
        before = cycle_holders(database_url)
        assert len({holder for holder, _ in before}) == 1, f"two processes scheduled: {before}"
        assert len(leaders(servers)) == 1

        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait()
        killed_at = time.time()
        for i in range(5):
            httpx.post(f"{follower.url}/api/v1/jobs", json=job(f"after-{i}"), headers=auth).raise_for_status()
        wait_for(lambda: leaders([follower]) == [follower])
        wait_for(lambda: set(statuses(follower, auth).values()) == {"SCHEDULED"})

        after = cycle_holders(database_url)
        old = {holder for holder, _ in before}
        new = {holder for holder, started in after if started > killed_at}
        assert new and not (new & old), "the survivor, not the dead leader, scheduled the later jobs"
        # The holders form two runs, never interleaved: no moment with two schedulers.
        runs = [h for i, (h, _) in enumerate(after) if i == 0 or after[i - 1][0] != h]
        assert len(runs) == 2, runs
        assert len(statuses(follower, auth)) == 15
    finally:
        for server in servers:
            server.stop()


def test_work_sent_to_a_follower_wakes_the_leader_at_once(database_url: str, tmp_path: Path) -> None:
    # A long timer: only a cross-process wake-up (NOTIFY) can schedule the job within seconds.
    servers = [
        start_server(tmp_path / name, database_url=database_url, scheduler_interval_s="60") for name in ("a", "b")
    ]
    try:
        auth = servers[0].headers  # the first server made the installation's admin token
        (leader,) = wait_for(lambda: len(leaders(servers)) == 1 and leaders(servers))
        (follower,) = [s for s in servers if s is not leader]
        httpx.post(f"{follower.url}/api/v1/centers", json=CENTER, headers=auth).raise_for_status()
        httpx.post(f"{follower.url}/api/v1/jobs", json=job("via-follower"), headers=auth).raise_for_status()
        # A guard, well inside the 60 s timer: only the wake-up can schedule it before it ends.
        wait_for(lambda: statuses(follower, auth) == {"via-follower": "SCHEDULED"}, timeout=10)
        assert len({holder for holder, _ in cycle_holders(database_url)}) == 1, "only the leader scheduled"
    finally:
        for server in servers:
            server.stop()
