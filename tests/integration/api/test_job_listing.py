"""GET /api/v1/jobs: filters and cursor pagination."""

from __future__ import annotations

from fastapi.testclient import TestClient

from suanli.composition import Container
from tests.integration.api.conftest import API, center, fields, job, pool, problem


def test_cursor_pagination_visits_every_job_once_newest_first(api: TestClient) -> None:
    submitted = api.post(f"{API}/jobs/batch", json={"jobs": [job(f"j{i}") for i in range(23)]}).json()["jobs"]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"{API}/jobs", params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert pages == 5
    assert seen == sorted((j["id"] for j in submitted), reverse=True)


def test_filters(api: TestClient, container: Container) -> None:
    api.post(f"{API}/centers", json=center("qingdao-ai", pool("a100", "A100", 8, 1)))
    placed = api.post(f"{API}/jobs", json=job("train-a", "A100:8", labels={"team": "cv"})).json()["id"]
    api.post(f"{API}/jobs", json=job("train-b", "A100:8", labels={"team": "nlp"}))
    cancelled = api.post(f"{API}/jobs", json=job("eval-c", "A100:8", labels={"team": "cv"})).json()["id"]
    api.post(f"{API}/jobs/{cancelled}/cancel")
    container.loop.run_once()

    def names(**params: object) -> list[str]:
        response = api.get(f"{API}/jobs", params=params)
        assert response.status_code == 200, response.text
        return [j["name"] for j in response.json()["jobs"]]

    assert names() == ["eval-c", "train-b", "train-a"]
    assert names(status="SCHEDULED") == ["train-a"]
    assert names(status="scheduled,cancelled") == ["eval-c", "train-a"]
    assert names(status=["PENDING", "CANCELLED"]) == ["eval-c", "train-b"]
    assert names(center="qingdao-ai") == ["train-a"]
    assert names(name="train") == ["train-b", "train-a"]
    assert names(label="team=cv") == ["eval-c", "train-a"]
    assert names(label="team=cv", status="SCHEDULED") == ["train-a"]
    assert names(center="elsewhere") == []
    assert api.get(f"{API}/jobs/{placed}").json()["placement"]["center"] == "qingdao-ai"


def test_bad_list_parameters_are_422(api: TestClient) -> None:
    assert fields(problem(api.get(f"{API}/jobs", params={"status": "DONE"}), 422)) == ["status"]
    assert fields(problem(api.get(f"{API}/jobs", params={"label": "team"}), 422)) == ["label"]
    assert fields(problem(api.get(f"{API}/jobs", params={"limit": 0}), 422)) == ["limit"]
    assert fields(problem(api.get(f"{API}/jobs", params={"limit": 1001}), 422)) == ["limit"]
    assert fields(problem(api.get(f"{API}/jobs", params={"cursor": "xyz"}), 422)) == ["cursor"]
    assert fields(problem(api.get(f"{API}/jobs", params={"cursor": "9" * 30}), 422)) == ["cursor"]
    assert api.get(f"{API}/jobs", params={"cursor": str(2**63 - 1)}).json() == {"jobs": [], "next_cursor": None}
    assert api.get(f"{API}/jobs", params={"limit": 1000}).status_code == 200
