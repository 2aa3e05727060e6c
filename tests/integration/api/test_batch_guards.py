"""What bounds a batch's memory (adapters/api/bulk.py): the count is checked before any job is
built, a batch waits for a turn before its body is read, and bodies stream through a byte limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from suanli.adapters.api.bulk import BulkGate, Busy, MalformedJson, count_jobs
from suanli.composition import Container
from tests.integration.api.conftest import API, job, job_count, problem
from tests.signed_in import signed_in

JSON = {"content-type": "application/json"}


@pytest.fixture
def small(container: Container) -> Iterator[TestClient]:
    """The app of ``container`` with max_jobs_per_request = 3 (read when the app is built)."""
    limit = container.settings.max_jobs_per_request
    container.settings.max_jobs_per_request = 3
    try:
        yield signed_in(container)
    finally:
        container.settings.max_jobs_per_request = limit


def test_the_count_is_checked_before_any_job_is_built(small: TestClient, container: Container) -> None:
    # The fourth job is invalid: had the jobs been built, that would be the answer (422).
    four = {"jobs": [job("a"), job("b"), job("c"), {"bogus": True}]}
    body = problem(small.post(f"{API}/jobs/batch", json=four), 413)
    assert "4 jobs" in body["detail"] and "at most 3" in body["detail"]
    assert body["errors"][0]["field"] == "jobs"
    assert job_count(container) == 0


def test_malformed_json_is_found_before_any_job_is_built(small: TestClient, container: Container) -> None:
    text = json.dumps({"jobs": [job("a"), job("b")]})[:-2] + "\n  ,}"
    body = problem(small.post(f"{API}/jobs/batch", content=text.encode(), headers=JSON), 400)
    assert "not valid JSON" in body["detail"] and "line 2" in body["detail"]
    deep = b'{"jobs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested too deeply" in problem(small.post(f"{API}/jobs/batch", content=deep, headers=JSON), 400)["detail"]
    assert job_count(container) == 0


def test_a_batch_without_a_turn_is_told_to_retry_and_stores_nothing(api: TestClient, container: Container) -> None:
    app = api.app
    app.state.bulk_gate = BulkGate(slots=0, waiting=0)  # type: ignore[attr-defined]
    response = api.post(f"{API}/jobs/batch", json={"jobs": [job()]})
    body = problem(response, 503)
    assert response.headers["retry-after"].isdigit() and "retry after" in body["detail"]

    app.state.bulk_gate = BulkGate(slots=0, waiting=1, wait_s=0.01)  # type: ignore[attr-defined]
    assert "waited" in problem(api.post(f"{API}/jobs/batch", json={"jobs": [job()]}), 503)["detail"]
    assert job_count(container) == 0

    app.state.bulk_gate = BulkGate(slots=1)  # type: ignore[attr-defined]
    assert api.post(f"{API}/jobs/batch", json={"jobs": [job()]}).status_code == 201
    assert api.post(f"{API}/jobs", json=job()).status_code == 201  # single jobs never wait for the gate


def test_batches_take_turns_and_the_waiting_room_is_bounded() -> None:
    async def scenario() -> list[str]:
        gate = BulkGate(slots=1, waiting=1, wait_s=60)
        order: list[str] = []
        release = asyncio.Event()

        async def first() -> None:
            async with gate.turn():
                order.append("first in")
                await release.wait()
                order.append("first out")

        async def second() -> None:
            async with gate.turn():
                order.append("second in")

        holder = asyncio.create_task(first())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0)
        assert gate.waiting == 1
        with pytest.raises(Busy):
            async with gate.turn():
                order.append("third in")
        release.set()
        await asyncio.gather(holder, waiter)
        assert gate.waiting == 0
        return order

    assert asyncio.run(scenario()) == ["first in", "first out", "second in"]


@pytest.mark.parametrize(
    ("body", "count"),
    [
        (b'{"jobs": [{}, {"a": {"b": [1, {}]}}, 3]}', 3),
        (b'{"jobs": [], "x": {"jobs": [1, 2, 3]}}', 0),
        (b'{"jobs": {"not": "a list"}}', None),
        (b"[1, 2]", None),
        (b"null", None),
    ],
)
def test_count_jobs(body: bytes, count: int | None) -> None:
    assert count_jobs(body) == count


@pytest.mark.parametrize("body", [b"", b'{"jobs": [', b"\xff\xfe\x00"])
def test_count_jobs_refuses_what_is_not_json(body: bytes) -> None:
    with pytest.raises(MalformedJson):
        count_jobs(body)
