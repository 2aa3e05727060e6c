from datetime import UTC, datetime, timedelta

from suanli.domain.centers import CenterState
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.snapshot import Snapshot
from tests.builders import make_center, make_job, make_pool

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def run(centers, *jobs, profile="default", allocations=()):  # type: ignore[no-untyped-def]
    snapshot = Snapshot.build(centers, allocations)
    return Scheduler(profile).run_cycle(snapshot, [j.build() for j in jobs], NOW.timestamp())


def test_fit_reports_free_count_when_pool_is_too_full() -> None:
    center = make_center("qd-ai-1", make_pool("a100", per_node=8, nodes=1))
    result = run([center], make_job(1).gpus("A100-80G:2"), make_job(2).gpus("A100-80G:8"))
    assert result.decisions[0].placed
    waiting = result.decisions[1]
    assert not waiting.placed
    assert "qd-ai-1/a100: needs 8 x A100-80G, 6 free [fit]" in [str(r) for r in waiting.rejections]


def test_gang_needs_all_nodes_at_once() -> None:
    center = make_center("qd", make_pool("a100", per_node=8, nodes=5))
    # Two 5-GPU jobs fragment two nodes: 30 GPUs stay free, but only 3 nodes have 7 free.
    first, second = make_job(1).gpus("A100-80G:5"), make_job(2).gpus("A100-80G:5")
    result = run([center], first, second, make_job(3).gpus("A100-80G:7").nodes(4))
    assert result.decisions[0].placed and result.decisions[1].placed
    gang = result.decisions[2]
    assert not gang.placed
    assert [r.message for r in gang.rejections] == ["needs 4 nodes with 7 x A100-80G free each, 3 have"]


def test_gang_placement_takes_distinct_whole_nodes() -> None:
    center = make_center("qd", make_pool("a100", per_node=8, nodes=4))
    result = run([center], make_job(1).gpus("A100-80G:8").nodes(3))
    choice = result.decisions[0].choice
    assert choice is not None
    assert len(set(choice.node_indices)) == 3


def test_static_fit_rules_out_node_shapes() -> None:
    center = make_center("edge", make_pool("t4", accelerator="T4", per_node=2, nodes=4, cpus=8, memory_gb=32))
    too_many = run([center], make_job(1).gpus("T4:4")).decisions[0]
    assert "needs 4 x T4 per node; its nodes have 2" in too_many.rejections[0].message
    too_much_memory = run([center], make_job(2).gpus("T4:1").memory(64)).decisions[0]
    assert "64 GB memory per node" in too_much_memory.rejections[0].message
    too_many_nodes = run([center], make_job(3).gpus("T4:1").nodes(5)).decisions[0]
    assert "needs 5 nodes; the pool has 4" in too_many_nodes.rejections[0].message


def test_alternatives_fall_back_to_the_second_model() -> None:
    a100 = make_center("qd", make_pool("a100", accelerator="A100-80G", nodes=1))
    ascend = make_center("sz", make_pool("910b", accelerator="Ascend910B", nodes=1), region="shenzhen")
    result = run(
        [a100, ascend],
        make_job(1).gpus("A100-80G:8"),
        make_job(2).gpus("A100-80G:8", "Ascend910B:8"),
    )
    assert result.decisions[0].choice.center == "qd"  # type: ignore[union-attr]
    second = result.decisions[1].choice
    assert second is not None and second.center == "sz" and second.accelerator == "Ascend910B"


def test_centers_without_the_model_are_named() -> None:
    cpu = make_center("hpc", make_pool("cpu", accelerator="CPU", per_node=64, cpus=64), kind="hpc")
    decision = run([cpu], make_job(1).gpus("H100:8")).decisions[0]
    assert [str(r) for r in decision.rejections] == ["hpc: has no H100 pool [fit]"]


def test_center_state_keeps_new_work_off_draining_centers() -> None:
    draining = make_center("old", make_pool(price=1), state=CenterState.DRAINING)
    online = make_center("new", make_pool(price=50))
    decision = run([draining, online], make_job(1).gpus("A100-80G:1")).decisions[0]
    assert decision.choice is not None and decision.choice.center == "new"
    only_draining = run([draining], make_job(2).gpus("A100-80G:1")).decisions[0]
    assert "center is DRAINING" in str(only_draining.rejections[0])
    assert only_draining.rejections[0].plugin == "center-state"


def test_constraints_regions_kinds_centers_and_price() -> None:
    qd = make_center("qd", make_pool(price=10), region="qingdao")
    sh = make_center("sh", make_pool(price=20), region="shanghai", kind="general")
    for constraint in ({"regions": ["shanghai"]}, {"center_kinds": ["general"]}, {"centers": ["sh"]}):
        choice = run([qd, sh], make_job(1).gpus("A100-80G:1").constrain(**constraint)).decisions[0].choice
        assert choice is not None and choice.center == "sh", constraint
    priced = run([qd, sh], make_job(1).gpus("A100-80G:8").constrain(max_price_per_hour=50)).decisions[0]
    assert not priced.placed
    messages = {r.center: r.message for r in priced.rejections}
    assert messages == {
        "qd": "costs 80.00 CNY/h, above the limit of 50.00",
        "sh": "costs 160.00 CNY/h, above the limit of 50.00",
    }
    affordable = run([qd, sh], make_job(1).gpus("A100-80G:8").constrain(max_price_per_hour=100)).decisions[0]
    assert affordable.choice is not None and affordable.choice.center == "qd"


def test_deadline_rules_out_runs_that_could_end_too_late() -> None:
    qd = make_center("qd", make_pool())
    deadline = NOW + timedelta(hours=1)
    late = run([qd], make_job(1).gpus("A100-80G:1").time_limit(7200).constrain(deadline=deadline)).decisions[0]
    assert not late.placed and "could end after the deadline" in late.rejections[0].message
    in_time = run([qd], make_job(2).gpus("A100-80G:1").time_limit(600).constrain(deadline=deadline)).decisions[0]
    assert in_time.placed
    passed = run([qd], make_job(3).gpus("A100-80G:1").constrain(deadline=NOW - timedelta(minutes=1))).decisions[0]
    assert "has passed" in passed.rejections[0].message


def test_cpu_jobs_use_cpu_pools_by_cores() -> None:
    hpc = make_center("hpc", make_pool("cpu", accelerator="CPU", per_node=64, nodes=2, cpus=64, price=0.1), kind="hpc")
    gpu = make_center("ai", make_pool())
    result = run([hpc, gpu], make_job(1).cpus(48), make_job(2).cpus(48), make_job(3).cpus(48))
    placed = [d.choice for d in result.decisions if d.choice]
    assert [(c.center, c.slots) for c in placed] == [("hpc", 48), ("hpc", 48)]
    assert [str(r) for r in result.decisions[2].rejections] == [
        "ai: has no CPU pool [fit]",
        "hpc/cpu: needs 48 CPU cores, 32 free [fit]",
    ]
