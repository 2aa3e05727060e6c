"""A job the scheduler cannot consider fails alone, with its reason; every cycle goes on for the
rest of the queue. Such a job reaches the store only from an earlier release with looser limits
(the API refuses it today), so the tests write its spec into the table directly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import centers, jobs
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.job_status import JobStatus
from suanli.scheduler.cycle import Scheduler
from suanli.services.scheduling import SchedulingService
from tests.builders import make_pool
from tests.integration.storage.helpers import Submit, center_spec, later


class _Clock:
    def now(self) -> Any:
        return later(10)


def _store_spec(engine: Engine, job_id: int, spec: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(update(jobs).where(jobs.c.id == job_id).values(spec=spec))


POISONS = {
    "cpus beyond a request's limit": {"name": "p", "command": "true", "resources": {"cpus": 2000}},
    "a deadline without a time zone": {"name": "p", "command": "true", "constraints": {"deadline": "2026-01-01T00:00"}},
    "a negative accelerator count": {
        "name": "p",
        "command": "true",
        "resources": {"accelerators": [{"model": "A100-80G", "count": -8}]},
    },
    "an unknown field type": {"name": "p", "command": "true", "nodes": "many"},
}


@pytest.mark.parametrize("poison", list(POISONS.values()), ids=list(POISONS))
def test_a_stored_job_the_scheduler_cannot_build_fails_alone_and_the_rest_are_placed(
    store: SqlStore, engine: Engine, submit: Submit, poison: dict[str, Any]
) -> None:
    store.create_center(center_spec("qd-ai-1", make_pool(per_node=8, nodes=2, cpus=96)), later(0))
    before, bad, after = submit(3, resources={"accelerators": "A100-80G:8"})
    _store_spec(engine, bad, poison)
    service = SchedulingService(store, Scheduler("default"), AcceleratorCatalog(), _Clock(), "test")

    shown = store.get_job(bad)  # still readable: listing and cancelling it must keep working
    assert shown.status is JobStatus.PENDING and shown.spec.name == "p"

    record = service.run_cycle()
    assert record.placed == 2
    assert store.get_job(before).status is JobStatus.SCHEDULED
    assert store.get_job(after).status is JobStatus.SCHEDULED
    failed = store.get_job(bad)
    assert failed.status is JobStatus.FAILED
    assert failed.message.startswith("the scheduler cannot consider this job: ")
    assert service.run_cycle().waiting == 0  # gone from the queue for good


def test_a_job_cancelled_while_it_was_judged_poison_stays_cancelled(
    store: SqlStore, engine: Engine, submit: Submit
) -> None:
    [bad] = submit(1)
    _store_spec(engine, bad, POISONS["cpus beyond a request's limit"])
    service = SchedulingService(store, Scheduler("default"), AcceleratorCatalog(), _Clock(), "test")
    job = store.get_job(bad)
    store.save_job(job.transitioned(JobStatus.CANCELLED, later(1)), job.version)
    service.run_cycle()
    assert store.get_job(bad).status is JobStatus.CANCELLED


def test_the_reason_names_the_field_and_its_limit(store: SqlStore, engine: Engine, submit: Submit) -> None:
    [bad] = submit(1)
    _store_spec(engine, bad, POISONS["cpus beyond a request's limit"])
    SchedulingService(store, Scheduler("default"), AcceleratorCatalog(), _Clock(), "test").run_cycle()
    message = store.get_job(bad).message
    assert "cpus" in message or "count" in message
    assert "1024" in message


def test_a_center_stored_under_older_limits_takes_no_work_and_the_others_go_on(
    store: SqlStore, engine: Engine, submit: Submit
) -> None:
    store.create_center(center_spec("good", make_pool(per_node=8, nodes=1)), later(0))
    store.create_center(center_spec("old", make_pool(per_node=8, nodes=4, price=1.0)), later(0))
    with engine.begin() as connection:  # a price from before prices had a ceiling
        [pools] = connection.execute(select(centers.c.pools).where(centers.c.name == "old")).one()
        pools = [{**pool, "price_per_accelerator_hour": 1e15} for pool in pools]
        connection.execute(update(centers).where(centers.c.name == "old").values(pools=pools))

    old = store.get_center("old")
    assert not old.accepts_new_work()
    assert "price_per_accelerator_hour" in old.problem and "set them again" in old.problem
    assert {c.name for c in store.list_centers()} == {"good", "old"}

    [job_id] = submit(1, resources={"accelerators": "A100-80G:8"})
    service = SchedulingService(store, Scheduler("default"), AcceleratorCatalog(), _Clock(), "test")
    assert service.run_cycle().placed == 1
    placed = store.get_job(job_id)
    assert placed.status is JobStatus.SCHEDULED and placed.placement is not None
    assert placed.placement.center == "good"
