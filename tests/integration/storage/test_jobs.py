"""Jobs: bulk submission with idempotency keys, reads, keyset pages, filters, versioned saves."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from suanli.adapters.storage.store import SqlStore
from suanli.domain.errors import Conflict, InvalidSpec, NotFound, StaleVersion
from suanli.domain.job_reach import JobReach
from suanli.domain.job_status import JobStatus
from suanli.services.ports import JobFilter, NewJob, PlacementWrite
from tests.integration.storage.helpers import T0, Submit, center_spec, later, placement, spec

FULL_SPEC = spec(
    "llm-finetune",
    command="torchrun --nproc_per_node 8 train.py --lr 3e-4",
    workdir="/data/llm",
    env={"NCCL_DEBUG": "INFO", "HF_HOME": "/cache/hf"},
    resources={"accelerators": ["A100-80G:8", "Ascend910B:8", "H800:4"], "cpus": 64, "memory_gb": 512.5},
    nodes=4,
    priority=-7,
    time_limit="2h30m",
    constraints={
        "regions": ["qingdao", "jinan"],
        "center_kinds": ["ai", "hpc"],
        "centers": ["qd-ai-1"],
        "max_price_per_hour": 1234.5,
        "deadline": datetime(2026, 12, 1, 18, 0, tzinfo=timezone(timedelta(hours=8))),
    },
    labels={"team": "nlp", "project": "千问-sft", "a.b/c": 'x"y'},
    max_retries=3,
)


def test_a_full_spec_survives_every_read_path(store: SqlStore) -> None:
    [added] = store.add_jobs([NewJob("acme", FULL_SPEC, "key-1")], T0)
    assert added.spec == FULL_SPEC and added.status is JobStatus.PENDING and added.version == 1
    fetched = store.get_job(added.id)
    assert fetched == added
    assert fetched.spec.constraints.deadline == FULL_SPEC.constraints.deadline
    assert fetched.submitted_at == T0 and fetched.submitted_at.tzinfo is not None
    assert store.list_jobs(JobFilter(), after=None, limit=10).jobs == [added]
    [pending] = store.pending_jobs()
    assert (pending.id, pending.version, pending.tenant_id, pending.priority) == (added.id, 1, "acme", -7)
    assert pending.spec == FULL_SPEC


def test_add_jobs_keeps_input_order_and_ids_grow(store: SqlStore) -> None:
    first = store.add_jobs([NewJob("t", spec(f"a-{i}")) for i in range(5)], T0)
    second = store.add_jobs([NewJob("t", spec(f"b-{i}")) for i in range(3)], later(1))
    ids = [job.id for job in first + second]
    assert ids == sorted(ids) and len(set(ids)) == 8
    assert [job.spec.name for job in first] == [f"a-{i}" for i in range(5)]
    assert [store.get_job(job.id).spec.name for job in second] == ["b-0", "b-1", "b-2"]
    assert store.add_jobs([], T0) == []


def test_another_tenants_job_is_not_found(store: SqlStore, submit: Submit) -> None:
    [job_id] = submit(1, tenant="acme")
    assert store.get_job(job_id, JobReach(organization="acme")).id == job_id
    with pytest.raises(NotFound, match=f"job {job_id} not found"):
        store.get_job(job_id, JobReach(organization="globex"))
    with pytest.raises(NotFound):
        store.get_job(job_id + 1000)


def test_pages_visit_every_job_once_newest_first(store: SqlStore, submit: Submit) -> None:
    ids = submit(23)
    seen: list[int] = []
    after = None
    while True:
        page = store.list_jobs(JobFilter(), after=after, limit=5)
        seen += [job.id for job in page.jobs]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == sorted(ids, reverse=True)
    exact = store.list_jobs(JobFilter(), after=None, limit=23)
    assert len(exact.jobs) == 23 and exact.next_cursor is None
    with pytest.raises(InvalidSpec):
        store.list_jobs(JobFilter(), after=None, limit=0)


def _all(store: SqlStore, filter: JobFilter, limit: int = 2) -> list[int]:
    """Every id the filter matches, walked in small pages so the cursor is exercised too."""
    ids: list[int] = []
    after = None
    while True:
        page = store.list_jobs(filter, after=after, limit=limit)
        ids += [job.id for job in page.jobs]
        if page.next_cursor is None:
            return ids
        after = page.next_cursor


def test_filters(store: SqlStore, submit: Submit) -> None:
    store.create_center(center_spec("qd-ai-1"), T0)
    store.create_center(center_spec("bj-ai"), T0)
    a = submit(3, tenant="acme", name="sweep", labels={"team": "nlp", "a.b/c": 'x"y'})
    b = submit(3, tenant="globex", name="sweep_", labels={"team": "cv"})
    c = submit(2, tenant="acme", name="eval%")
    placed = [a[0], a[2], b[1]]
    writes = [PlacementWrite(a[0], 1, placement("qd-ai-1")), PlacementWrite(a[2], 1, placement("bj-ai"))]
    writes.append(PlacementWrite(b[1], 1, placement("qd-ai-1", nodes=(1,))))
    assert store.apply_placements(writes, later(1)) == placed
    job = store.get_job(c[0])
    store.save_job(job.transitioned(JobStatus.CANCELLED, later(2)), job.version)

    def ids(**kwargs: object) -> list[int]:
        return _all(store, JobFilter(**kwargs))  # type: ignore[arg-type]

    def desc(job_ids: list[int]) -> list[int]:
        return sorted(job_ids, reverse=True)

    assert ids(reach=JobReach(organization="acme")) == desc(a + c)
    assert ids(statuses=frozenset({JobStatus.SCHEDULED})) == desc(placed)
    assert ids(statuses=frozenset({JobStatus.SCHEDULED, JobStatus.CANCELLED})) == desc([*placed, c[0]])
    acme = JobReach(organization="acme")
    assert ids(statuses=frozenset({JobStatus.PENDING, JobStatus.CANCELLED}), reach=acme) == desc([a[1], *c])
    assert ids(center="qd-ai-1") == desc([a[0], b[1]])
    assert ids(center="qd-ai-1", reach=JobReach(organization="globex")) == [b[1]]
    # prefixes are literal: '_' and '%' are not wildcards
    assert ids(name_prefix="sweep") == desc(a + b)
    assert ids(name_prefix="sweep_") == desc(b)
    assert ids(name_prefix="eval%") == desc(c)
    assert ids(name_prefix="eval_") == []
    assert ids(label=("team", "nlp")) == desc(a)
    assert ids(label=("team", "cv"), statuses=frozenset({JobStatus.PENDING})) == desc([b[0], b[2]])
    assert ids(label=("a.b/c", 'x"y')) == desc(a)
    assert ids(label=("team", "nlp"), statuses=frozenset({JobStatus.PENDING, JobStatus.SCHEDULED})) == desc(a)
    assert ids(label=("team", "ops")) == []


def test_same_key_and_spec_returns_the_existing_job(store: SqlStore) -> None:
    [first] = store.add_jobs([NewJob("acme", FULL_SPEC, "k1")], T0)
    again = store.add_jobs([NewJob("acme", FULL_SPEC, "k1"), NewJob("acme", spec("other"))], later(5))
    assert again[0] == first
    assert again[1].id > first.id
    # the same spec written out with its defaults is the same spec
    [plain] = store.add_jobs([NewJob("acme", spec("p"), "k2")], T0)
    [explicit] = store.add_jobs([NewJob("acme", spec("p", priority=0, nodes=1, env={}), "k2")], T0)
    assert explicit == plain
    # keys are per tenant
    [globex] = store.add_jobs([NewJob("globex", FULL_SPEC, "k1")], T0)
    assert globex.id != first.id
    assert sum(store.count_jobs_by_status().values()) == 4


def test_same_key_with_another_spec_is_a_conflict_and_writes_nothing(store: SqlStore, submit: Submit) -> None:
    submit(2)
    store.add_jobs([NewJob("acme", spec("a"), "k1")], T0)
    batch = [NewJob("acme", spec(f"new-{i}")) for i in range(5)] + [NewJob("acme", spec("b"), "k1")]
    with pytest.raises(Conflict, match="idempotency key 'k1' was already used for job"):
        store.add_jobs(batch, later(1))
    assert sum(store.count_jobs_by_status().values()) == 3
    assert store.list_jobs(JobFilter(name_prefix="new-"), after=None, limit=10).jobs == []


def test_repeated_keys_inside_one_batch(store: SqlStore) -> None:
    jobs = store.add_jobs([NewJob("t", spec("a"), "k"), NewJob("t", spec("b")), NewJob("t", spec("a"), "k")], T0)
    assert jobs[0] == jobs[2] and jobs[1].id != jobs[0].id
    assert sum(store.count_jobs_by_status().values()) == 2
    with pytest.raises(Conflict, match=r"jobs\[0\] and jobs\[1\] use the idempotency key 'z'"):
        store.add_jobs([NewJob("t", spec("a"), "z"), NewJob("t", spec("b"), "z")], T0)
    assert sum(store.count_jobs_by_status().values()) == 2


def test_concurrent_submissions_with_one_key_make_one_job(engine: Engine) -> None:
    stores = [SqlStore(engine) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    results: list[int] = []
    errors: list[BaseException] = []

    def submit(store: SqlStore) -> None:
        barrier.wait()
        try:
            results.append(store.add_jobs([NewJob("acme", FULL_SPEC, "once")], T0)[0].id)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(results) == len(stores)
    assert len(set(results)) == 1
    assert sum(stores[0].count_jobs_by_status().values()) == 1


def test_save_job_is_compare_and_set_on_the_version(store: SqlStore, submit: Submit) -> None:
    [job_id] = submit(1)
    job = store.get_job(job_id)
    cancelled = store.save_job(job.transitioned(JobStatus.CANCELLED, later(1), message="not needed"), 1)
    assert cancelled.version == 2 and cancelled.status is JobStatus.CANCELLED
    assert store.get_job(job_id) == cancelled
    assert store.get_job(job_id).message == "not needed" and store.get_job(job_id).updated_at == later(1)
    with pytest.raises(StaleVersion, match=f"job {job_id} was changed meanwhile"):
        store.save_job(job.transitioned(JobStatus.SCHEDULED, later(2), placement=placement()), 1)
    assert store.get_job(job_id) == cancelled
    with pytest.raises(NotFound):
        store.save_job(job.model_copy(update={"id": job_id + 1000}), 1)


def test_save_job_writes_and_clears_the_placement(store: SqlStore, submit: Submit) -> None:
    [job_id] = submit(1)
    job = store.get_job(job_id)
    scheduled = store.save_job(job.transitioned(JobStatus.SCHEDULED, later(1), placement=placement()), 1)
    assert store.get_job(job_id) == scheduled and scheduled.placement == placement() and scheduled.attempts == 1
    refused = store.save_job(scheduled.transitioned(JobStatus.PENDING, later(2), message="center refused"), 2)
    assert refused.placement is None
    assert store.get_job(job_id) == refused and refused.version == 3


def test_save_job_stores_times_in_utc(store: SqlStore, submit: Submit) -> None:
    [job_id] = submit(1)
    job = store.get_job(job_id)
    beijing = timezone(timedelta(hours=8))
    store.save_job(job.transitioned(JobStatus.CANCELLED, datetime(2026, 3, 1, 16, 30, tzinfo=beijing)), 1)
    updated = store.get_job(job_id).updated_at
    assert updated == datetime(2026, 3, 1, 8, 30, tzinfo=UTC) and updated.utcoffset() == timedelta(0)


def test_count_by_status(store: SqlStore, submit: Submit) -> None:
    acme = submit(3, tenant="acme")
    submit(2, tenant="globex")
    job = store.get_job(acme[0])
    store.save_job(job.transitioned(JobStatus.CANCELLED, later(1)), 1)
    counts = store.count_jobs_by_status()
    assert counts[JobStatus.PENDING] == 4 and counts[JobStatus.CANCELLED] == 1 and counts[JobStatus.RUNNING] == 0
    assert set(counts) == set(JobStatus)
    acme_counts = store.count_jobs_by_status("acme")
    assert acme_counts[JobStatus.PENDING] == 2 and acme_counts[JobStatus.CANCELLED] == 1
    assert sum(store.count_jobs_by_status("nobody").values()) == 0


def test_the_reach_of_a_center_operator(store: SqlStore, submit: Submit) -> None:
    """Jobs on the centers an organization owns, now or in an earlier attempt, whosever they
    are; with its own organization's jobs when it reaches those too; selected by the database,
    so that pages count only them."""
    store.create_center(center_spec("owned"), T0, "owner")
    store.create_center(center_spec("other"), T0, "someone-else")
    a = submit(4, tenant="acme")
    own = submit(1, tenant="owner")
    writes = [PlacementWrite(a[0], 1, placement("owned")), PlacementWrite(a[2], 1, placement("other"))]
    writes.append(PlacementWrite(a[3], 1, placement("owned", nodes=(1,))))
    store.apply_placements(writes, later(1))
    moved = store.get_job(a[3])  # off "owned" again: it was there, and stays in view
    store.save_job(moved.transitioned(JobStatus.LOST, later(2)), moved.version)

    def ids(reach: JobReach, **kwargs: object) -> list[int]:
        return _all(store, JobFilter(reach=reach, **kwargs), limit=1)  # type: ignore[arg-type]

    operator = JobReach(centers_of="owner")
    assert ids(operator) == [a[3], a[0]]
    assert ids(JobReach(organization="owner", centers_of="owner")) == [own[0], a[3], a[0]]
    assert ids(operator, statuses=frozenset({JobStatus.SCHEDULED, JobStatus.LOST})) == [a[3], a[0]]
    assert ids(operator, statuses=frozenset({JobStatus.PENDING})) == []
    assert ids(JobReach(centers_of="nobody")) == [] and ids(JobReach()) == []
    assert store.get_job(a[0], operator).id == a[0]
    for hidden in (a[1], a[2], own[0]):
        with pytest.raises(NotFound):
            store.get_job(hidden, operator)
