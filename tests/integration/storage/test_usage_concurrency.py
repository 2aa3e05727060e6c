"""Two server processes metering at once never double a usage record: on PostgreSQL, two engines
(two connection pools, as two processes have) write checkpoints in threads at the same time, and
race the reports that end the attempts. On SQLite writers queue, so the race is PostgreSQL's."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from suanli.adapters.storage import usage_rows as usage_rows_writer
from suanli.adapters.storage.agent_store import SqlAgentStore
from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.usage_store import SqlUsageStore
from suanli.domain.attempts import AttemptState
from suanli.services.ports import NewJob, PlacementWrite
from tests.integration.storage.helpers import T0, center_spec, later, placement, spec
from tests.metering import metering_problems, usage_rows

ATTEMPTS = 40
HOUR = 3600.0

pytestmark = pytest.mark.postgres


@pytest.fixture
def second_engine(postgres_engine: Engine) -> Iterator[Engine]:
    engine = make_engine(postgres_engine.url)
    yield engine
    engine.dispose()


def running_attempts(engine: Engine) -> list[int]:
    """ATTEMPTS jobs placed on one center, each attempt reported RUNNING at T0; their ids."""
    store, agents = SqlStore(engine), SqlAgentStore(SqlStore(engine))
    store.create_center(center_spec("qd-ai-1"), T0)
    jobs = store.add_jobs([NewJob("acme", spec(f"train-{i}")) for i in range(ATTEMPTS)], T0)
    placed = store.apply_placements([PlacementWrite(j.id, 1, placement()) for j in jobs], T0)
    assert len(placed) == ATTEMPTS
    for job_id in placed:
        attempt = agents.get_attempt(job_id, 1)
        assert attempt is not None
        agents.save_attempt(attempt.transitioned(AttemptState.RUNNING, T0), AttemptState.ASSIGNED)
    return placed


def together(*work: Callable[[], None]) -> None:
    """Runs each function in its own thread, all released at once; re-raises the first failure."""
    start = threading.Barrier(len(work))
    failures: list[BaseException] = []

    def run(function: Callable[[], None]) -> None:
        start.wait()
        try:
            function()
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(f,)) for f in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    if failures:
        raise failures[0]


def test_two_processes_checkpointing_at_once_write_each_interval_once(
    postgres_engine: Engine, second_engine: Engine
) -> None:
    ids = running_attempts(postgres_engine)
    first, second = SqlUsageStore(SqlStore(postgres_engine)), SqlUsageStore(SqlStore(second_engine))
    written: dict[str, int] = {"first": 0, "second": 0}

    def meter(name: str, store: SqlUsageStore, lag_s: float) -> Callable[[], None]:
        def run() -> None:
            for hour in range(1, 6):  # each looks at the same hours, one a few seconds behind the other
                written[name] += store.write_checkpoints(later(hour * HOUR + lag_s), HOUR)

        return run

    together(meter("first", first, 0), meter("second", second, 7))
    records = usage_rows(postgres_engine)
    assert written["first"] + written["second"] == len(records)  # nothing counted that was not kept
    assert metering_problems(postgres_engine) == []  # each run tiled: no interval twice, none overlapping
    # However the two interleaved (a process skips the attempts the other holds), every run is
    # metered to its last due hour at least.
    for job_id in {r.job_id for r in records}:
        assert max(r.interval_end for r in records if r.job_id == job_id) >= later(4 * HOUR)
    assert {r.job_id for r in records} == set(ids)


def test_checkpoints_racing_the_reports_that_end_the_attempts_tile_each_run(
    postgres_engine: Engine, second_engine: Engine
) -> None:
    ids = running_attempts(postgres_engine)
    checkpoints = SqlUsageStore(SqlStore(postgres_engine))
    reporter = SqlAgentStore(SqlStore(second_engine))
    ended = T0 + timedelta(hours=10)  # after every checkpoint's moment: only the locks race

    def meter() -> None:
        for hour in range(1, 6):
            checkpoints.write_checkpoints(later(hour * HOUR), HOUR)

    def end_them() -> None:
        for job_id in ids:
            attempt = reporter.get_attempt(job_id, 1)
            assert attempt is not None
            reporter.save_attempt(
                attempt.transitioned(AttemptState.SUCCEEDED, ended, exit_code=0), AttemptState.RUNNING
            )

    together(meter, end_them)
    records = usage_rows(postgres_engine)
    finals = [r for r in records if r.reason == "SUCCEEDED"]
    assert len(finals) == ATTEMPTS  # one each, however the race went
    for job_id in ids:
        assert sum(r.seconds for r in records if r.job_id == job_id) == 10 * HOUR
    assert metering_problems(postgres_engine) == []


def test_without_the_row_locks_the_key_alone_keeps_an_interval_from_being_written_twice(
    postgres_engine: Engine, second_engine: Engine
) -> None:
    ids = running_attempts(postgres_engine)
    written: list[int] = []

    def meter(engine: Engine) -> Callable[[], None]:
        def run() -> None:
            with SqlStore(engine)._write() as connection:  # both read the same due attempts
                written.append(usage_rows_writer.write_checkpoints(connection, later(HOUR), HOUR, lock=False))

        return run

    together(meter(postgres_engine), meter(second_engine))
    assert sum(written) == ATTEMPTS  # what one inserted, the other's insert skipped
    records = usage_rows(postgres_engine)
    assert len(records) == ATTEMPTS and {r.job_id for r in records} == set(ids)
    assert metering_problems(postgres_engine) == []
