"""Group commit with a real SQLite store: concurrent submissions share transactions, and one
refused job fails only its own request."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.migrations_runner import upgrade_database
from suanli.adapters.storage.store import SqlStore
from suanli.domain.errors import Conflict
from suanli.domain.jobs import JobSpec
from suanli.services.group_commit import GroupCommit
from suanli.services.ports import JobFilter, NewJob


def spec(name: str) -> JobSpec:
    return JobSpec.model_validate({"name": name, "command": ["true"]})


@pytest.fixture
def store(tmp_path: Path) -> SqlStore:
    url = f"sqlite:///{tmp_path / 'suanli.db'}"
    upgrade_database(url)
    return SqlStore(make_engine(url))


def test_concurrent_submissions_are_merged_and_all_stored(store: SqlStore) -> None:
    batches: list[int] = []

    def write(jobs):  # type: ignore[no-untyped-def]
        batches.append(len(jobs))
        return store.add_jobs(jobs, datetime.now(UTC))

    group = GroupCommit(write)
    with ThreadPoolExecutor(16) as pool:
        jobs = list(pool.map(lambda i: group.submit(NewJob("default", spec(f"j{i}"))), range(200)))
    assert sorted(j.spec.name for j in jobs) == sorted(f"j{i}" for i in range(200))
    assert len({j.id for j in jobs}) == 200
    assert sum(batches) == 200
    stored = store.list_jobs(JobFilter(), after=None, limit=1000).jobs
    assert len(stored) == 200


def test_a_refused_job_fails_alone(store: SqlStore) -> None:
    first = store.add_jobs([NewJob("default", spec("original"), "key-1")], datetime.now(UTC))[0]
    batches: list[list[str]] = []

    def slow_first_write(jobs):  # type: ignore[no-untyped-def]
        batches.append([j.spec.name for j in jobs])
        if len(batches) == 1:
            time.sleep(0.3)  # the others queue up meanwhile and are written as one batch
        return store.add_jobs(jobs, datetime.now(UTC))

    group = GroupCommit(slow_first_write)
    clash = NewJob("default", spec("different"), "key-1")
    items = [NewJob("default", spec(f"ok-{i}")) for i in range(5)]
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(group.submit, items[0])]
        time.sleep(0.1)
        futures += [pool.submit(group.submit, item) for item in [*items[1:3], clash, *items[3:]]]
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except Conflict as error:
                results.append(error)
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 1 and "key-1" in refused[0].message
    stored = {j.spec.name for j in store.list_jobs(JobFilter(), after=None, limit=100).jobs}
    assert stored == {"original", *(f"ok-{i}" for i in range(5))}
    assert first.id in {j.id for j in store.list_jobs(JobFilter(), after=None, limit=100).jobs}
    assert any(len(b) == 5 and "different" in b for b in batches), batches  # merged, then split
