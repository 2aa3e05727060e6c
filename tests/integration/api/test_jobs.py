"""/api/v1/jobs: submit one or a batch, idempotency, show, cancel, explain, scheduling."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container
from suanli.domain.job_status import JobStatus
from suanli.domain.limits import MAX_ID
from tests.integration.api.conftest import API, center, fields, job, job_count, pool, problem
from tests.signed_in import signed_in


def test_submit_returns_the_job(api: TestClient) -> None:
    response = api.post(f"{API}/jobs", json=job("train", ["A100:8", "910B:8"], priority=5, labels={"team": "cv"}))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] > 0
    assert (body["tenant_id"], body["name"], body["status"], body["priority"]) == ("default", "train", "PENDING", 5)
    assert body["attempts"] == 0 and body["placement"] is None
    assert [a["model"] for a in body["spec"]["resources"]["accelerators"]] == ["A100-80G", "Ascend910B"]
    assert body["submitted_at"] and body["updated_at"]
    # No center is registered: the job is queued (the API's default), with a warning that says why
    # it cannot run yet; shown later, the same words are why it waits.
    assert body["warning"] == "no center is registered yet" and body["waiting_reason"] == ""
    shown = api.get(f"{API}/jobs/{body['id']}").json()
    assert shown["waiting_reason"] == body["warning"] and shown["warning"] == ""
    assert {k: v for k, v in shown.items() if k not in ("warning", "waiting_reason")} == {
        k: v for k, v in body.items() if k not in ("warning", "waiting_reason")
    }


def test_an_unknown_accelerator_names_the_field_and_stores_nothing(api: TestClient, container: Container) -> None:
    body = problem(api.post(f"{API}/jobs", json=job(accelerators=["Z9000:8"])), 422)
    assert fields(body) == ["resources.accelerators[0]"]
    assert "Z9000" in body["detail"] and "A100-80G" in body["detail"]
    assert job_count(container) == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (job(accelerators="A100:-8"), "resources.accelerators[0].count"),
        (job(nodes=-1), "nodes"),
        (job(priority="high"), "priority"),
        (job(resources={"cpus": 0}), "resources.cpus"),
        ({**job(), "gpus": 8}, "gpus"),
        ({**job(), "resources": {"accelerators": "A100:8", "disk": 1}}, "resources.disk"),
        ({"name": "no-command"}, "command"),
        (job(command=""), "command"),
        (job(env={"1BAD": "x"}), "env"),
        (job(time_limit="soon"), "time_limit"),
    ],
)
def test_invalid_specs_are_refused_naming_the_field(
    api: TestClient, container: Container, payload: dict[str, Any], field: str
) -> None:
    if "command" in payload and payload["command"] == "":
        payload = {**payload}
    body = problem(api.post(f"{API}/jobs", json=payload), 422)
    assert field in fields(body), body
    assert all(e["message"] for e in body["errors"])
    assert job_count(container) == 0


def test_missing_and_malformed_ids(api: TestClient) -> None:
    assert "12345" in problem(api.get(f"{API}/jobs/12345"), 404)["detail"]
    problem(api.post(f"{API}/jobs/12345/cancel"), 404)
    problem(api.get(f"{API}/jobs/12345/explain"), 404)
    assert fields(problem(api.get(f"{API}/jobs/abc"), 422)) == ["job_id"]
    for huge in ("0", "-1", str(MAX_ID + 1), str(2**63), "9" * 30):
        assert fields(problem(api.get(f"{API}/jobs/{huge}"), 422)) == ["job_id"]
        assert fields(problem(api.post(f"{API}/jobs/{huge}/cancel"), 422)) == ["job_id"]
    assert str(MAX_ID) in problem(api.get(f"{API}/jobs/{MAX_ID}"), 404)["detail"]


def test_an_idempotency_key_replay_returns_the_same_job(api: TestClient, container: Container) -> None:
    first = api.post(f"{API}/jobs", json=job("once"), headers={"Idempotency-Key": "key-1"})
    again = api.post(f"{API}/jobs", json=job("once"), headers={"Idempotency-Key": "key-1"})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert job_count(container) == 1

    problem(api.post(f"{API}/jobs", json=job("different"), headers={"Idempotency-Key": "key-1"}), 409)
    other = api.post(f"{API}/jobs", json=job("once"), headers={"Idempotency-Key": "key-2"})
    assert other.json()["id"] != first.json()["id"]
    assert job_count(container) == 2


def test_a_batch_stores_every_job_in_order(api: TestClient, container: Container) -> None:
    batch = {"jobs": [job(f"b{i}", idempotency_key=f"k{i}") for i in range(5)] + [job("no-key")]}
    response = api.post(f"{API}/jobs/batch", json=batch)
    assert response.status_code == 201, response.text
    jobs = response.json()["jobs"]
    assert [j["name"] for j in jobs] == ["b0", "b1", "b2", "b3", "b4", "no-key"]
    assert all("idempotency_key" not in j["spec"] for j in jobs)
    assert job_count(container) == 6

    replay = api.post(f"{API}/jobs/batch", json={"jobs": batch["jobs"][:5]}).json()["jobs"]
    assert [j["id"] for j in replay] == [j["id"] for j in jobs[:5]]
    assert job_count(container) == 6


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (job(accelerators="Z9000:8"), "jobs[2].resources.accelerators[0]"),
        ({**job(), "bogus": True}, "jobs[2].bogus"),
        (job(nodes=0), "jobs[2].nodes"),
    ],
)
def test_a_batch_with_one_bad_job_stores_nothing(
    api: TestClient, container: Container, bad: dict[str, Any], field: str
) -> None:
    api.post(f"{API}/jobs", json=job("before"))
    before = job_count(container)
    body = problem(api.post(f"{API}/jobs/batch", json={"jobs": [job("a"), job("b"), bad, job("d")]}), 422)
    assert field in fields(body)
    assert job_count(container) == before == 1


def test_batch_shape_errors(api: TestClient) -> None:
    assert fields(problem(api.post(f"{API}/jobs/batch", json={"jobs": []}), 422)) == ["jobs"]
    assert "extra" in problem(api.post(f"{API}/jobs/batch", json={"jobs": [job()], "x": 1}), 422)["detail"].lower()
    problem(api.post(f"{API}/jobs/batch", json={"jobs": [job(idempotency_key="")]}), 422)


def test_a_batch_longer_than_the_setting_is_refused(api: TestClient, container: Container) -> None:
    limit = container.settings.max_jobs_per_request
    container.settings.max_jobs_per_request = 3  # read when the app is built

    try:
        small = signed_in(container)
        body = problem(small.post(f"{API}/jobs/batch", json={"jobs": [job(f"j{i}") for i in range(4)]}), 413)
        assert "at most 3" in body["detail"]
        assert job_count(container) == 0
        assert small.post(f"{API}/jobs/batch", json={"jobs": [job(f"j{i}") for i in range(3)]}).status_code == 201
    finally:
        container.settings.max_jobs_per_request = limit


def test_jobs_are_scheduled_on_the_expected_center_and_explained(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("beijing-dear", pool("a100", "A100", 8, 2, price=30.0), region="beijing"))
    api.post(f"{API}/centers", json=center("qingdao-cheap", pool("a100", "A100", 8, 2, price=8.0)))
    api.post(f"{API}/centers", json=center("jinan-v100", pool("v100", "V100", 8, 4, price=2.0), region="jinan"))
    job_id = api.post(f"{API}/jobs", json=job("train", "A100:8")).json()["id"]

    waiting = api.get(f"{API}/jobs/{job_id}/explain").json()
    assert waiting["status"] == "PENDING" and waiting["job_id"] == job_id

    record = container.loop.run_once()
    assert record is not None and record.placed == 1
    scheduled = api.get(f"{API}/jobs/{job_id}").json()
    assert scheduled["status"] == "SCHEDULED"
    assert scheduled["attempts"] == 1
    placement = scheduled["placement"]
    assert (placement["center"], placement["pool"], placement["accelerator"]) == ("qingdao-cheap", "a100", "A100-80G")
    assert placement["accelerators_per_node"] == 8 and len(placement["node_indices"]) == 1
    assert placement["price_per_hour"] == pytest.approx(64.0)

    explained = api.get(f"{API}/jobs/{job_id}/explain").json()
    assert explained["status"] == "SCHEDULED"
    text = " ".join(explained["reasons"])
    assert "qingdao-cheap" in text and "price" in text


def test_a_job_that_fits_nowhere_explains_each_center(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("qingdao-ai", pool("a100", "A100", 8, 2)))
    api.post(f"{API}/centers", json=center("jinan-v100", pool("v100", "V100", 8, 4), region="jinan"))
    job_id = api.post(f"{API}/jobs", json=job("huge", "A100:8", nodes=3)).json()["id"]
    container.loop.run_once()
    explained = api.get(f"{API}/jobs/{job_id}/explain").json()
    assert explained["status"] == "PENDING"
    text = "\n".join(explained["reasons"])
    assert "qingdao-ai" in text and "jinan-v100" in text and "[fit]" in text


def test_cancelling_twice_is_no_error_but_cancelling_a_finished_job_is(api: TestClient, container: Container) -> None:
    job_id = api.post(f"{API}/jobs", json=job()).json()["id"]
    cancelled = api.post(f"{API}/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED" and cancelled.json()["message"]
    again = api.post(f"{API}/jobs/{job_id}/cancel")  # a retry, or two people at once: the wish holds
    assert again.status_code == 200 and again.json() == cancelled.json()
    done = container.store.get_job(job_id)
    assert done.status.value == "CANCELLED" and done.version == 2  # the second cancel wrote nothing
    failed_id = api.post(f"{API}/jobs", json=job()).json()["id"]
    job_row = container.store.get_job(failed_id)
    container.store.save_job(job_row.transitioned(JobStatus.FAILED, job_row.updated_at, message="x"), job_row.version)
    body = problem(api.post(f"{API}/jobs/{failed_id}/cancel"), 409)
    assert "FAILED" in body["detail"]
    assert api.get(f"{API}/jobs/{job_id}").json()["status"] == "CANCELLED"
