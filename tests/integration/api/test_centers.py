"""/api/v1/centers: register, list, show with capacity, pools, drain and resume, delete."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container
from tests.integration.api.conftest import API, center, fields, job, pool, problem


def test_register_list_and_show_with_capacity(api: TestClient) -> None:
    created = api.post(f"{API}/centers", json=center("qingdao-ai", pool("a100", "A100", 8, 2)))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "ONLINE"
    assert body["pools"][0]["accelerator"] == "A100-80G"  # the catalog's canonical name
    assert (body["total_accelerators"], body["free_accelerators"]) == (16, 16)

    api.post(f"{API}/centers", json=center("beijing-hpc", pool("v100", "V100", 4, 3), kind="hpc", region="beijing"))
    listed = api.get(f"{API}/centers").json()["centers"]
    assert [c["name"] for c in listed] == ["beijing-hpc", "qingdao-ai"]

    shown = api.get(f"{API}/centers/beijing-hpc").json()
    assert shown["kind"] == "hpc" and shown["region"] == "beijing"
    assert (shown["pools"][0]["total_accelerators"], shown["pools"][0]["free_accelerators"]) == (12, 12)


def test_free_capacity_follows_placements(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("qingdao-ai", pool("a100", "A100", 8, 2)))
    api.post(f"{API}/jobs", json=job("big", "A100:8"))
    container.loop.run_once()
    shown = api.get(f"{API}/centers/qingdao-ai").json()
    assert shown["pools"][0]["free_accelerators"] == 8
    assert shown["free_accelerators"] == 8 and shown["total_accelerators"] == 16


def test_a_taken_name_is_a_conflict(api: TestClient) -> None:
    api.post(f"{API}/centers", json=center("qingdao-ai"))
    assert "already exists" in problem(api.post(f"{API}/centers", json=center("qingdao-ai")), 409)["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pools": [pool(nodes=-1)]}, "pools[0].nodes"),
        ({"pools": [pool(per_node=0)]}, "pools[0].accelerators_per_node"),
        ({"pools": [{**pool(), "nodes": "many"}]}, "pools[0].nodes"),
        ({"kind": "quantum"}, "kind"),
        ({"name": "Not A Name"}, "name"),
        ({"colour": "blue"}, "colour"),
        ({"pools": [{**pool(), "gpus": 8}]}, "pools[0].gpus"),
    ],
)
def test_invalid_centers_are_refused_naming_the_field(api: TestClient, change: dict, field: str) -> None:
    body = problem(api.post(f"{API}/centers", json={**center("bad"), **change}), 422)
    assert field in fields(body)
    assert api.get(f"{API}/centers").json()["centers"] == []


def test_an_unknown_accelerator_names_the_pool(api: TestClient) -> None:
    body = problem(api.post(f"{API}/centers", json=center("x", pool(accelerator="Z9000"))), 422)
    assert fields(body) == ["pools[0].accelerator"]
    assert "Z9000" in body["detail"]


def test_missing_centers_are_404_everywhere(api: TestClient) -> None:
    for response in (
        api.get(f"{API}/centers/nowhere"),
        api.put(f"{API}/centers/nowhere/pools", json={"pools": []}),
        api.post(f"{API}/centers/nowhere/drain"),
        api.post(f"{API}/centers/nowhere/resume"),
        api.delete(f"{API}/centers/nowhere"),
    ):
        assert "nowhere" in problem(response, 404)["detail"]


def test_pools_are_replaced_and_validated(api: TestClient) -> None:
    api.post(f"{API}/centers", json=center("qingdao-ai"))
    updated = api.put(f"{API}/centers/qingdao-ai/pools", json={"pools": [pool("l40s", "L40S", 4, 5, 3.0)]})
    assert updated.status_code == 200, updated.text
    assert [(p["name"], p["accelerator"], p["total_accelerators"]) for p in updated.json()["pools"]] == [
        ("l40s", "L40S", 20)
    ]
    assert updated.json()["version"] > 1

    problem(api.put(f"{API}/centers/qingdao-ai/pools", json={"pools": [pool("a"), pool("a")]}), 422)
    assert fields(problem(api.put(f"{API}/centers/qingdao-ai/pools", json=[pool()]), 422)) == ["body"]
    extra = problem(api.put(f"{API}/centers/qingdao-ai/pools", json={"pools": [], "x": 1}), 422)
    assert fields(extra) == ["x"]
    assert api.get(f"{API}/centers/qingdao-ai").json()["pools"][0]["name"] == "l40s"


def test_a_drained_center_takes_no_new_jobs_until_resumed(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("qingdao-ai"))
    assert api.post(f"{API}/centers/qingdao-ai/drain").json()["state"] == "DRAINING"
    job_id = api.post(f"{API}/jobs", json=job()).json()["id"]
    container.loop.run_once()
    assert api.get(f"{API}/jobs/{job_id}").json()["status"] == "PENDING"
    reasons = " ".join(api.get(f"{API}/jobs/{job_id}/explain").json()["reasons"])
    assert "qingdao-ai" in reasons and "center-state" in reasons

    assert api.post(f"{API}/centers/qingdao-ai/resume").json()["state"] == "ONLINE"
    container.loop.run_once()
    assert api.get(f"{API}/jobs/{job_id}").json()["status"] == "SCHEDULED"


def test_delete_is_refused_while_a_job_is_active_there(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("qingdao-ai"))
    job_id = api.post(f"{API}/jobs", json=job()).json()["id"]
    container.loop.run_once()
    assert api.get(f"{API}/jobs/{job_id}").json()["status"] == "SCHEDULED"

    problem(api.delete(f"{API}/centers/qingdao-ai"), 409)
    assert api.get(f"{API}/centers/qingdao-ai").status_code == 200

    api.post(f"{API}/jobs/{job_id}/cancel")
    deleted = api.delete(f"{API}/centers/qingdao-ai")
    assert deleted.status_code == 204 and deleted.content == b""
    problem(api.get(f"{API}/centers/qingdao-ai"), 404)


def test_a_pool_that_shares_gpus_keeps_placements_gpu_by_gpu_across_cycles(
    api: TestClient, container: Container
) -> None:
    # One node of 4 GPUs that jobs may share: the server places whole GPUs there, and the snapshot
    # it rebuilds each cycle counts them GPU by GPU, so a job needing 2 waits while 1 is free.
    shared = {**pool("t4", "T4", per_node=4, nodes=1), "share_gpus": True}
    created = api.post(f"{API}/centers", json=center("edge", shared))
    assert created.status_code == 201, created.text
    assert created.json()["pools"][0]["share_gpus"] is True
    for name in ("a", "b", "c"):
        api.post(f"{API}/jobs", json=job(name, "T4:1"))
    container.loop.run_once()
    assert api.get(f"{API}/centers/edge").json()["free_accelerators"] == 1
    waiting = api.post(f"{API}/jobs", json=job("pair", "T4:2")).json()
    container.loop.run_once()
    shown = api.get(f"{API}/jobs/{waiting['id']}").json()
    assert shown["status"] == "PENDING", shown
    assert api.get(f"{API}/centers/edge").json()["free_accelerators"] == 1
