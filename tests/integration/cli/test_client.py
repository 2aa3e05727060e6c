"""The SDK against a real server: typed answers, cursors, problems and connection errors."""

from __future__ import annotations

import pytest

from suanli.client import (
    CenterOut,
    JobOut,
    SuanliApiError,
    SuanliClient,
    SuanliConnectionError,
)
from suanli.domain.centers import Pool
from suanli.domain.jobs import JobSpec
from tests.servers import Server, free_port


def _center(name: str) -> dict:
    pool = Pool(
        name="main",
        accelerator="H100",
        accelerators_per_node=8,
        cpus_per_node=96,
        memory_gb_per_node=1024,
        nodes=2,
        price_per_accelerator_hour=20,
    )
    return {"name": name, "owner": "sdk", "kind": "ai", "region": "shanghai", "pools": [pool.model_dump()]}


def test_typed_round_trip(server: Server) -> None:
    with SuanliClient(server.url, token=server.token) as client:
        health = client.health()
        assert health.status == "ok" and health.database == "sqlite"

        added = client.add_center(_center("sdk-site"))
        assert isinstance(added, CenterOut) and added.total_accelerators == 16
        assert "sdk-site" in [c.name for c in client.list_centers()]
        resized = client.set_pools("sdk-site", [p.to_pool() for p in added.pools] + [_small_pool()])
        assert [p.name for p in resized.pools] == ["main", "small"]
        assert client.drain_center("sdk-site").state == "DRAINING"
        assert client.resume_center("sdk-site").state == "ONLINE"

        spec = JobSpec(name="sdk-one", command=("python", "x.py"), resources={"accelerators": ["H100:8"]})
        job = client.submit(spec, idempotency_key="sdk-key")
        assert isinstance(job, JobOut) and job.spec.resources.accelerators[0].model == "H100"
        assert client.submit(spec, idempotency_key="sdk-key").id == job.id
        assert client.get_job(job.id).name == "sdk-one"
        assert client.explain_job(job.id).job_id == job.id
        assert client.cancel_job(job.id).status == "CANCELLED"
        with pytest.raises(SuanliApiError) as error:
            client.delete_center("no-such-center")
        assert error.value.status == 404


def _small_pool() -> Pool:
    return Pool(
        name="small",
        accelerator="T4",
        accelerators_per_node=1,
        cpus_per_node=8,
        memory_gb_per_node=32,
        nodes=4,
        price_per_accelerator_hour=1,
    )


def test_submit_many_and_iter_jobs_follows_cursors(server: Server) -> None:
    with SuanliClient(server.url, token=server.token) as client:
        specs = [{"name": f"sdk-many-{i}", "command": "echo"} for i in range(12)]
        jobs = client.submit_many(specs, idempotency_keys=[f"many-{i}" for i in range(12)])
        assert [j.name for j in jobs] == [s["name"] for s in specs]
        seen = [j.id for j in client.iter_jobs(name="sdk-many-", page_size=5)]
        assert seen == sorted((j.id for j in jobs), reverse=True)
        page = client.list_jobs(name="sdk-many-", limit=5, status=["PENDING", "SCHEDULED"])
        assert len(page.jobs) == 5 and page.next_cursor is not None


def test_problems_become_readable_errors(server: Server) -> None:
    with SuanliClient(server.url, token=server.token) as client:
        with pytest.raises(SuanliApiError) as error:
            client.submit({"name": "bad", "command": "echo", "resources": {"accelerators": "Z9000"}})
        assert error.value.status == 422
        assert [e.field for e in error.value.errors] == ["resources.accelerators[0]"]
        assert "resources.accelerators[0]" in str(error.value) and "HTTP 422" in str(error.value)

        with pytest.raises(SuanliApiError) as error:
            client.submit_many([{"name": "ok", "command": "echo"}, {"name": "bad", "nodes": 0, "command": "x"}])
        assert "jobs[1].nodes" in [e.field for e in error.value.errors]


def test_an_unreachable_server_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with SuanliClient(url, timeout=2) as client, pytest.raises(SuanliConnectionError) as error:
        client.health()
    assert f"cannot reach the Suanli server at {url}" in str(error.value)
    assert "suanli server" in str(error.value) and "SUANLI_SERVER" in str(error.value)


def test_the_server_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUANLI_SERVER", "http://example.invalid:9/")
    assert SuanliClient().server == "http://example.invalid:9"
    monkeypatch.delenv("SUANLI_SERVER")
    assert SuanliClient().server == "http://127.0.0.1:8642"


def test_the_server_printed_its_url(server: Server) -> None:
    log = (server.home / "server.log").read_text()
    assert f"serving on {server.url}" in log
    assert "Traceback" not in log
