from datetime import UTC, datetime

import pytest

from suanli.domain.errors import InvalidSpec
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.framework import FITS, Candidate, CycleContext, FilterPlugin, FilterStatus
from suanli.scheduler.plugins.table import FILTERS, QUEUE_ORDERS, SCORES
from suanli.scheduler.registry import PROFILES, Profile
from suanli.scheduler.request import Shape
from suanli.scheduler.snapshot import Snapshot
from tests.builders import make_center, make_job, make_pool

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()


def test_priority_decides_who_gets_the_last_gpus() -> None:
    center = make_center("qd", make_pool(nodes=1))
    jobs = [make_job(1).gpus("A100-80G:8"), make_job(2).gpus("A100-80G:8").priority(10)]
    result = Scheduler("default").run_cycle(Snapshot.build([center], []), [j.build() for j in jobs], NOW)
    assert [d.job_id for d in result.decisions if d.placed] == [2]


def test_each_job_gets_exactly_one_decision_in_queue_order() -> None:
    center = make_center("qd", make_pool(nodes=1))
    jobs = [make_job(i).gpus("A100-80G:3") for i in (5, 3, 9)]
    result = Scheduler("fifo").run_cycle(Snapshot.build([center], []), [j.build() for j in jobs], NOW)
    assert [d.job_id for d in result.decisions] == [3, 5, 9]
    assert [d.placed for d in result.decisions] == [True, True, False]


def test_alike_jobs_share_one_evaluation() -> None:
    center = make_center("qd", make_pool(nodes=2))
    jobs = [make_job(i).gpus("A100-80G:1").build() for i in range(1, 101)]
    result = Scheduler("default").run_cycle(Snapshot.build([center], []), jobs, NOW)
    assert result.shapes_evaluated == 1
    assert len(result.placed) == 16
    assert len(result.waiting) == 84
    assert "needs 1 x A100-80G, 0 free" in str(result.waiting[-1].rejections[0])


def test_existing_placements_hold_capacity_and_vanished_nodes_hold_nothing() -> None:
    center = make_center("qd", make_pool(nodes=2))
    held = [(100, "qd", "gpu", (0,), 8, None), (101, "qd", "gpu", (7,), 8, None), (102, "gone", "x", (0,), 8, None)]
    snapshot = Snapshot.build([center], held)
    assert snapshot.pools[0].free_total == 8
    assert len(snapshot.allocations) == 2 and list(snapshot.allocations.values())[1].node_indices == ()


def test_explain_for_placed_and_waiting_jobs_reads_like_prose() -> None:
    qd = make_center("qd-ai-1", make_pool("a100", nodes=1, price=12))
    sz = make_center("sz-ai", make_pool("910b", accelerator="Ascend910B", nodes=1, price=9))
    jobs = [make_job(1).gpus("A100-80G:8", "Ascend910B:8"), make_job(2).gpus("A100-80G:8")]
    snapshot = Snapshot.build([qd, sz], [(100, "qd-ai-1", "a100", (0,), 2, None)])
    placed, waiting = Scheduler("default").run_cycle(snapshot, [j.build() for j in jobs], NOW).decisions
    assert placed.explain()[0].startswith("placed on sz-ai/910b (Ascend910B)")
    assert waiting.explain()[0] == "waiting: no center can take this job now"
    assert "qd-ai-1/a100: needs 8 x A100-80G, 6 free [fit]" in waiting.explain()
    assert "sz-ai: has no A100-80G pool [fit]" in waiting.explain()


def test_profiles_reject_unknown_plugins_with_the_list_of_known_ones() -> None:
    with pytest.raises(InvalidSpec, match="unknown score plugin 'cheapest'; available: .*carbon, .*load-balance"):
        Profile.from_config({"scores": {"cheapest": 1}})
    with pytest.raises(InvalidSpec, match="unknown queue order"):
        Profile.from_config({"queue_order": "random"})
    assert Profile.from_config({"queue_order": "fifo", "scores": {"price": 2}}).scores == {"price": 2}


def test_the_plugin_table_lists_each_plugin_under_its_own_name() -> None:
    for table in (FILTERS, SCORES, QUEUE_ORDERS):
        assert {name: plugin.name for name, plugin in table.items()} == {name: name for name in table}
    for profile in PROFILES.values():
        profile.check_names()


class _FailsOnThreeNodes(FilterPlugin):
    """A filter with a bug that only 3-node jobs meet."""

    name = "fails-on-three-nodes"

    def check_static(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        if shape.nodes == 3:
            raise ZeroDivisionError("division by zero")
        return FITS


@pytest.mark.parametrize("explain_waiting", [True, False])
def test_a_job_whose_decision_raises_gets_an_error_and_the_cycle_goes_on(explain_waiting: bool) -> None:
    center = make_center("qd", make_pool(nodes=4))
    scheduler = Scheduler("default")
    scheduler.filters.insert(0, _FailsOnThreeNodes())
    jobs = [make_job(1).gpus("A100-80G:8"), make_job(2).gpus("A100-80G:8").nodes(3), make_job(3).gpus("A100-80G:8")]
    result = scheduler.run_cycle(
        Snapshot.build([center], []), [j.build() for j in jobs], NOW, explain_waiting=explain_waiting
    )
    assert [d.job_id for d in result.placed] == [1, 3]
    assert [(d.job_id, d.error) for d in result.errors] == [(2, "ZeroDivisionError: division by zero")]
    assert result.waiting == []
    assert result.errors[0].explain() == ["the scheduler cannot consider this job: ZeroDivisionError: division by zero"]


class _CannotReadTwoNodes(FilterPlugin):
    """A filter that cannot decide for 2-node jobs: it answers ERROR (dynamic, on the hot path)."""

    name = "cannot-read-two-nodes"
    dynamic = True

    def check(self, shape: Shape, candidate: Candidate, ctx: CycleContext) -> FilterStatus:
        if shape.nodes == 2:
            return FilterStatus.error("no topology for this pool")
        if shape.nodes == 3:
            return FilterStatus.unschedulable("three is a crowd")
        return FITS


@pytest.mark.parametrize("explain_waiting", [True, False])
def test_a_filter_error_fails_only_its_job_and_unschedulable_makes_it_wait(explain_waiting: bool) -> None:
    center = make_center("qd", make_pool(nodes=4))
    scheduler = Scheduler("default")
    error_filter = _CannotReadTwoNodes()
    scheduler.dynamic_filters.insert(0, error_filter)
    scheduler.reserved_filters.insert(0, error_filter)
    jobs = [make_job(1).gpus("A100-80G:8"), make_job(2).gpus("A100-80G:8").nodes(2), make_job(3).gpus("A100-80G:8")]
    jobs.append(make_job(4).gpus("A100-80G:8").nodes(3))
    result = scheduler.run_cycle(
        Snapshot.build([center], []), [j.build() for j in jobs], NOW, explain_waiting=explain_waiting
    )
    assert [d.job_id for d in result.placed] == [1, 3]
    message = "the cannot-read-two-nodes filter failed: no topology for this pool"
    assert [(d.job_id, d.error) for d in result.errors] == [(2, message)]
    assert result.errors[0].explain() == [f"the scheduler cannot consider this job: {message}"]
    if explain_waiting:
        (waiting,) = result.waiting
        assert waiting.job_id == 4
        assert "qd/gpu: three is a crowd [cannot-read-two-nodes]" in waiting.explain()
