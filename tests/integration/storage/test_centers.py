"""Centers: create, read, update with a version check, and delete only when nothing runs there."""

from __future__ import annotations

import pytest

from suanli.adapters.storage.store import SqlStore
from suanli.domain.centers import CenterState
from suanli.domain.errors import Conflict, NotFound, StaleVersion
from suanli.domain.job_status import JobStatus
from suanli.services.ports import PlacementWrite
from tests.builders import make_pool
from tests.integration.storage.helpers import T0, Submit, center_spec, later, placement


def test_create_get_and_list(store: SqlStore) -> None:
    spec = center_spec("qd-ai-1", make_pool("a100", "A100-80G"), make_pool("npu", "Ascend910B", price=6.5))
    created = store.create_center(spec, T0)
    assert created.spec == spec and created.state is CenterState.ONLINE and created.version == 1
    store.create_center(center_spec("bj-hpc"), T0)
    assert store.get_center("qd-ai-1") == created
    assert [c.name for c in store.list_centers()] == ["bj-hpc", "qd-ai-1"]


def test_a_taken_name_is_a_conflict_that_says_what_to_do(store: SqlStore) -> None:
    store.create_center(center_spec("qd-ai-1"), T0)
    with pytest.raises(Conflict, match="center 'qd-ai-1' already exists; pick another name"):
        store.create_center(center_spec("qd-ai-1"), T0)
    assert len(store.list_centers()) == 1


def test_missing_center(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="center 'nowhere' not found"):
        store.get_center("nowhere")
    with pytest.raises(NotFound):
        store.update_center("nowhere", expected_version=1, now=T0, state=CenterState.DRAINING)
    with pytest.raises(NotFound):
        store.delete_center("nowhere")


def test_update_pools_and_state_bumps_the_version(store: SqlStore) -> None:
    store.create_center(center_spec("qd-ai-1"), T0)
    pools = (make_pool("h100", "H100", nodes=4), make_pool("t4", "T4", per_node=4))
    resized = store.update_center("qd-ai-1", expected_version=1, now=later(1), pools=pools)
    assert resized.pools == pools and resized.version == 2 and resized.state is CenterState.ONLINE
    drained = store.update_center("qd-ai-1", expected_version=2, now=later(2), state=CenterState.DRAINING)
    assert drained.state is CenterState.DRAINING and drained.pools == pools and drained.version == 3
    assert store.get_center("qd-ai-1") == drained


def test_update_from_an_old_version_is_stale(store: SqlStore) -> None:
    store.create_center(center_spec("qd-ai-1"), T0)
    store.update_center("qd-ai-1", expected_version=1, now=later(1), state=CenterState.DRAINING)
    with pytest.raises(StaleVersion, match="version 2, expected 1"):
        store.update_center("qd-ai-1", expected_version=1, now=later(2), state=CenterState.OFFLINE)
    assert store.get_center("qd-ai-1").state is CenterState.DRAINING


def test_delete_is_refused_while_jobs_hold_capacity_there(store: SqlStore, submit: Submit) -> None:
    store.create_center(center_spec("qd-ai-1"), T0)
    store.create_center(center_spec("bj-ai"), T0)
    scheduled, running, waiting = submit(3)
    writes = [PlacementWrite(i, 1, placement("qd-ai-1", nodes=(n,))) for n, i in enumerate((scheduled, running))]
    assert store.apply_placements(writes, later(1)) == [scheduled, running]
    job = store.get_job(running)
    store.save_job(job.transitioned(JobStatus.RUNNING, later(2)), job.version)

    with pytest.raises(Conflict, match="center 'qd-ai-1' still holds 2 scheduled or running job"):
        store.delete_center("qd-ai-1")
    assert store.get_center("qd-ai-1")

    for job_id, target in ((scheduled, JobStatus.CANCELLED), (running, JobStatus.SUCCEEDED)):
        job = store.get_job(job_id)
        store.save_job(job.transitioned(target, later(3)), job.version)
    store.delete_center("qd-ai-1")  # finished jobs and a waiting one do not hold it
    assert [c.name for c in store.list_centers()] == ["bj-ai"]
    finished = store.get_job(running).placement
    assert finished is not None and finished.center == "qd-ai-1"  # history keeps where it ran
    assert store.get_job(waiting).status is JobStatus.PENDING
