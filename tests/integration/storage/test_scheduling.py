"""What the scheduler reads and writes: the pending queue, placements, the cycle log."""

from __future__ import annotations

from datetime import UTC, datetime

from suanli.adapters.storage.store import SqlStore
from suanli.domain.centers import CenterState
from suanli.domain.job_status import JobStatus
from suanli.services.ports import CycleRecord, NewJob, PlacementWrite
from tests.integration.storage.helpers import T0, Submit, center_spec, later, placement, spec


def test_pending_jobs_in_fifo_order_with_specs_only_for_unknown_ids(store: SqlStore, submit: Submit) -> None:
    ids = submit(3, priority=5, tenant="acme")
    first = store.pending_jobs()
    assert [p.id for p in first] == ids
    assert all(p.spec == spec(f"job-{i}", priority=5) for i, p in enumerate(first))
    assert {(p.version, p.tenant_id, p.priority) for p in first} == {(1, "acme", 5)}
    new = submit(2, name="late")
    again = store.pending_jobs(known=frozenset(ids))
    assert [p.id for p in again] == ids + new
    assert [p.spec is None for p in again] == [True, True, True, False, False]
    assert again[3].spec == spec("late-0")


def test_pending_jobs_leaves_out_what_is_no_longer_pending(store: SqlStore, submit: Submit) -> None:
    store.create_center(center_spec("qd-ai-1"), later(0))
    ids = submit(4)
    job = store.get_job(ids[1])
    store.save_job(job.transitioned(JobStatus.CANCELLED, later(1)), 1)
    store.apply_placements([PlacementWrite(ids[2], 1, placement())], later(2))
    assert [p.id for p in store.pending_jobs()] == [ids[0], ids[3]]
    assert [p.id for p in store.pending_jobs(known=frozenset(ids))] == [ids[0], ids[3]]


def test_apply_placements_writes_only_jobs_still_pending_at_their_version(store: SqlStore, submit: Submit) -> None:
    store.create_center(center_spec("qd-ai-1"), later(0))
    ok, cancelled, stale, twice, nowhere = submit(5)
    job = store.get_job(cancelled)
    store.save_job(job.transitioned(JobStatus.CANCELLED, later(1)), 1)  # the user cancelled meanwhile
    writes = [
        PlacementWrite(ok, 1, placement(nodes=(0, 1))),
        PlacementWrite(cancelled, 1, placement()),
        PlacementWrite(stale, 7, placement()),
        PlacementWrite(twice, 1, placement(nodes=(1,))),
        PlacementWrite(twice, 1, placement(nodes=(0,))),
        PlacementWrite(nowhere, 1, placement("deleted-center")),
    ]
    assert store.apply_placements(writes, later(2)) == [ok, twice]
    placed = store.get_job(ok)
    assert placed.status is JobStatus.SCHEDULED and placed.version == 2 and placed.attempts == 1
    assert placed.placement == placement(nodes=(0, 1)) and placed.updated_at == later(2)
    assert store.get_job(twice).placement == placement(nodes=(1,))
    assert store.get_job(cancelled).status is JobStatus.CANCELLED
    assert store.get_job(stale).status is JobStatus.PENDING and store.get_job(stale).version == 1
    assert store.get_job(nowhere).status is JobStatus.PENDING
    assert store.apply_placements([], later(3)) == []


def test_active_placements(store: SqlStore, submit: Submit) -> None:
    store.create_center(center_spec("qd-ai-1"), later(0))
    scheduled, running, done, waiting = submit(4, time_limit=3600)
    writes = [
        PlacementWrite(j, 1, placement(nodes=(n, n + 1), slots=4)) for n, j in enumerate((scheduled, running, done))
    ]
    store.apply_placements(writes, later(10))
    job = store.get_job(running)
    store.save_job(job.transitioned(JobStatus.RUNNING, later(20)), job.version)
    job = store.get_job(done)
    store.save_job(job.transitioned(JobStatus.FAILED, later(30)), job.version)
    active = sorted(store.active_placements(), key=lambda p: p.job_id)
    assert [(p.job_id, p.center, p.pool, p.node_indices, p.slots, p.since, p.time_limit) for p in active] == [
        (scheduled, "qd-ai-1", "gpu", (0, 1), 4, later(10), 3600.0),
        (running, "qd-ai-1", "gpu", (1, 2), 4, later(20), 3600.0),
    ]
    assert waiting not in {p.job_id for p in active}


def test_cycle_records_newest_first(store: SqlStore) -> None:
    for i in range(5):
        store.record_cycle(
            CycleRecord(
                holder=f"host:{i}",
                started_at=later(i),
                placed=i,
                waiting=10 - i,
                duration_ms=1.5 * i,
                reservation="job 3 holds a reservation" if i == 4 else "",
                extra={"round": i},
            )
        )
    recent = store.recent_cycles(limit=3)
    assert [r.holder for r in recent] == ["host:4", "host:3", "host:2"]
    assert recent[0] == CycleRecord("host:4", later(4), 4, 6, 6.0, "job 3 holds a reservation", {"round": 4})
    assert recent[0].started_at.tzinfo is not None
    assert len(store.recent_cycles()) == 5
    assert datetime(2026, 3, 1, 8, 0, 4, tzinfo=UTC) == recent[0].started_at


def test_capacity_fingerprint_moves_when_capacity_may_be_freed(store: SqlStore) -> None:
    store.create_center(center_spec("fp-center"), T0)
    start = store.capacity_fingerprint()
    job = store.add_jobs([NewJob("default", spec())], T0)[0]
    assert store.capacity_fingerprint() == start, "a submission frees nothing"
    store.save_job(job.transitioned(JobStatus.CANCELLED, T0), job.version)
    after_cancel = store.capacity_fingerprint()
    assert after_cancel != start
    center = store.get_center("fp-center")
    store.update_center("fp-center", expected_version=center.version, now=T0, state=CenterState.DRAINING)
    assert store.capacity_fingerprint() != after_cancel
