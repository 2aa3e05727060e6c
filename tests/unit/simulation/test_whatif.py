"""Capacity planning: the same workload on two fleets, the capacity change derived from the
fleets, and a verdict a person can read out."""

from __future__ import annotations

import math

import pytest

from suanli.domain.centers import Pool
from suanli.simulation.engine import Simulation
from suanli.simulation.fleet import Fleet, FleetCenter
from suanli.simulation.metrics import Summary, summarize
from suanli.simulation.whatif import capacity_changes, compare
from suanli.simulation.workload import TraceJob, Workload


def pool(name: str, model: str, nodes: int, price: float) -> Pool:
    return Pool(
        name=name,
        accelerator=model,
        accelerators_per_node=8,
        cpus_per_node=128,
        memory_gb_per_node=1024,
        nodes=nodes,
        price_per_accelerator_hour=price,
    )


def regional(ascend_nodes: int, a100_nodes: int = 2) -> Fleet:
    return Fleet(
        name=f"regional-{ascend_nodes}",
        centers=(
            FleetCenter(name="qd-a100", pools=(pool("a100", "A100", a100_nodes, 14),)),
            FleetCenter(name="gy-910b", pools=(pool("910b", "910B", ascend_nodes, 9),)),
        ),
    )


# 8-GPU jobs, one every 10 minutes, each 2 hours: 12 running at once would keep up; 4 nodes don't.
WORKLOAD = Workload("queued", tuple(TraceJob(f"j{i}", i * 600.0, 7200.0, 8, group="lab") for i in range(60)), None)


def run(fleet: Fleet) -> Summary:
    return summarize(Simulation(WORKLOAD, fleet, "fifo").run())


def test_more_accelerators_cut_queueing_and_the_verdict_names_model_count_and_center() -> None:
    base, more = regional(2), regional(10)
    before, after = run(base), run(more)
    assert before.queue_p95_h > 1  # the base is loaded enough to queue
    comparison = compare(base, more, before, after)
    assert after.queue_p95_h < before.queue_p95_h / 2
    row = comparison.row("queue_p95_h")
    assert (row.base, row.what_if) == (before.queue_p95_h, after.queue_p95_h)
    assert row.change == pytest.approx(after.queue_p95_h - before.queue_p95_h) and row.change_pct is not None
    assert comparison.row("accelerators").change == 64
    [change] = comparison.capacity
    assert (change.center, change.accelerator, change.before, change.after) == ("gy-910b", "Ascend910B", 16, 80)
    verdict = comparison.verdict
    assert verdict.startswith("Adding 64 Ascend910B at gy-910b cuts p95 queueing from ")
    assert f"{before.queue_p95_h:.1f} h to" in verdict
    assert "CNY" in verdict and verdict.endswith(".")
    data = comparison.as_dict()
    assert set(data) >= {"base", "what_if", "changes", "verdict"}
    assert data["changes"]["queue_p95_h"]["what_if"] == after.queue_p95_h
    assert data["base"]["fleet"] == "regional-2" and data["what_if"]["fleet"] == "regional-10"


def test_removing_capacity_says_so_and_queueing_rises() -> None:
    base, fewer = regional(2, a100_nodes=4), regional(2, a100_nodes=1)
    comparison = compare(base, fewer, run(base), run(fewer))
    assert comparison.verdict.startswith("Removing 24 A100-80G at qd-a100 raises p95 queueing from ")
    assert comparison.row("accelerators").change == -24


def test_capacity_changes_cover_new_and_dropped_centers_and_several_models() -> None:
    base = regional(2)
    moved = Fleet(
        name="moved",
        centers=(
            FleetCenter(name="gy-910b", pools=(pool("910b", "Ascend910B", 4, 9), pool("h100", "H100", 1, 30))),
            FleetCenter(name="new-site", pools=(pool("a100", "A100", 1, 14),)),
        ),
    )
    changes = capacity_changes(base, moved)
    described = [c.describe() for c in changes]
    assert described == [
        "adding 16 Ascend910B at gy-910b",
        "adding 8 H100 at gy-910b (new)",
        "adding 8 A100-80G at new-site (new)",
        "removing 16 A100-80G at qd-a100 (all of them)",
    ]
    assert capacity_changes(base, base) == ()


def test_the_same_fleet_and_no_finished_jobs_read_plainly() -> None:
    fleet = regional(2)
    summary = run(fleet)
    comparison = compare(fleet, fleet, summary, summary)
    assert comparison.verdict.startswith("The same fleet leaves p95 queueing at ")
    assert "costs the same" in comparison.verdict
    empty = summarize(Simulation(Workload("none", (), None), fleet, "fifo").run())
    assert math.isnan(empty.queue_p95_h)
    assert "unmeasured" in compare(fleet, fleet, empty, empty).verdict
    assert compare(fleet, fleet, empty, empty).as_dict()["base"]["queue_p95_h"] is None
