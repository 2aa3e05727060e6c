"""Pools that share GPUs: fractional requests, CPU-only jobs on GPU nodes, and how each packing
policy (fragmentation-aware, best fit, random) picks a node."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.domain.centers import Pool
from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.packing import Mix, best_fit_pick, fragmentation_pick
from suanli.scheduler.request import SchedulingRequest, simple_shape
from suanli.scheduler.sharing import WHOLE, Demand, SharedNodes
from suanli.scheduler.snapshot import Snapshot
from tests.builders import make_center

NOW = 1.8e9


def shared_pool(nodes: int = 2, per_node: int = 2, cpus: int = 16, *, share: bool = True) -> Pool:
    return Pool(
        name="t4",
        accelerator="T4",
        accelerators_per_node=per_node,
        cpus_per_node=cpus,
        memory_gb_per_node=64,
        nodes=nodes,
        price_per_accelerator_hour=1.0,
        share_gpus=share,
    )


def job(job_id: int, gpus: int = 1, milli: int = WHOLE, cpus: float = 1) -> SchedulingRequest:
    return SchedulingRequest(job_id, 0, simple_shape("T4", gpus, cpus=cpus, memory_gb=1, gpu_milli=milli))


def run(profile: str, pool: Pool, queue: list[SchedulingRequest]) -> Snapshot:
    snapshot = Snapshot.build([make_center("c", pool)], [])
    Scheduler(profile).run_cycle(snapshot, queue, NOW)
    return snapshot


def test_shares_of_one_gpu_stack_on_it_and_whole_gpu_jobs_avoid_it() -> None:
    snapshot = run("best-fit", shared_pool(nodes=1), [job(1, milli=600), job(2, milli=400), job(3, milli=300)])
    placed = snapshot.allocations
    # 0.6 and 0.4 fill one GPU exactly (best fit); 0.3 cannot join them and opens the other GPU.
    assert placed[1].gpus == placed[2].gpus != placed[3].gpus
    pool = snapshot.pools[0]
    assert pool.shared is not None and sorted(pool.shared.gpu[0].tolist()) == [0, 700]
    assert pool.free_total == 0  # no GPU is wholly free: a whole-GPU job must wait
    result = Scheduler("best-fit").run_cycle(snapshot, [job(4)], NOW)
    assert not result.placed and "1 whole GPU(s)" in str(result.waiting[0].rejections[0])


def test_undo_gives_back_exactly_what_a_shared_placement_took() -> None:
    snapshot = run("fgd", shared_pool(), [job(1, milli=250), job(2, gpus=2), job(3, gpus=0, cpus=3.5)])
    assert len(snapshot.allocations) == 3
    snapshot.undo([1, 2, 3])
    pool = snapshot.pools[0]
    assert pool.shared is not None
    assert (pool.shared.gpu == WHOLE).all() and (pool.shared.cpu == 16_000).all()
    assert pool.free_total == pool.total and pool.load.used == 0


def test_a_partial_gpu_request_needs_a_pool_that_shares_gpus() -> None:
    snapshot = Snapshot.build([make_center("c", shared_pool(share=False))], [])
    result = Scheduler("default").run_cycle(snapshot, [job(1, milli=500), job(2, gpus=0, cpus=2)], NOW)
    reasons = [str(r) for d in result.waiting for r in d.rejections]
    assert not result.placed
    assert any("does not share GPUs" in r for r in reasons)
    assert any("uses no accelerators" in r for r in reasons)


def test_cpu_only_jobs_use_a_gpu_nodes_cpus_and_can_strand_its_gpus() -> None:
    # One node, 16 CPUs: a CPU-only job takes 15 of them, so a GPU job needing 2 CPUs cannot start
    # although both GPUs are free. That is fragmentation by CPU, which FGD counts.
    snapshot = run("fgd", shared_pool(nodes=1), [job(1, gpus=0, cpus=15), job(2, cpus=2)])
    assert list(snapshot.allocations) == [1]
    pool = snapshot.pools[0]
    assert pool.free_total == 2


def nodes_with(free: list[list[int]], cpus: int = 16_000) -> SharedNodes:
    nodes = SharedNodes(len(free), len(free[0]), cpus / 1000, 64)
    nodes.gpu[:] = np.array(free)
    return nodes


def test_fragmentation_counts_what_each_kind_of_job_cannot_use() -> None:
    half, whole = Demand(1, 500, 1000, 1024), Demand(1, WHOLE, 1000, 1024)
    mix = Mix([half, whole])  # equally common
    nodes = nodes_with([[WHOLE, 300], [WHOLE, 600]])
    frag = mix.fragmentation(nodes.gpu, nodes.cpu, nodes.mem)
    # Node 0: the 300 left on a GPU is too little for either kind. Node 1: the 600 serves a half
    # GPU but not a whole one, so it counts for half the mix.
    assert frag.tolist() == pytest.approx([300.0, 300.0])
    starved = mix.fragmentation(nodes.gpu, np.array([500, 500]), nodes.mem)  # no CPU to run anything
    assert starved.tolist() == pytest.approx([1300.0, 1600.0])
    assert len(Mix([Demand(0, WHOLE, 4000, 1024)])) == 0  # CPU-only kinds are left out, as in FGD


def test_fgd_keeps_room_for_the_workload_where_best_fit_fills_the_tightest_gap() -> None:
    # The workload is half-GPU jobs. A 0.2 job fits tightest on node 0's GPU with 600 free, but
    # that leaves 400, too little for a half; on node 1's whole GPU it leaves 800, still room.
    nodes = nodes_with([[600], [WHOLE]])
    small, mix = Demand(1, 200, 1000, 1024), Mix([Demand(1, 500, 1000, 1024)])
    fits = nodes.fits(small)
    best_fit, fgd = best_fit_pick(nodes, small, fits), fragmentation_pick(nodes, small, fits, mix)
    assert best_fit is not None and fgd is not None
    assert best_fit[1] == 0 and fgd[1] == 1


def test_fgd_recomputes_only_nodes_that_changed_and_stays_right() -> None:
    nodes = nodes_with([[WHOLE, WHOLE]] * 3)
    mix = Mix([Demand(1, 500, 1000, 1024), Demand(2, WHOLE, 1000, 1024)])
    half = Demand(1, 500, 1000, 1024)
    picks = []
    for _ in range(4):
        pick = fragmentation_pick(nodes, half, nodes.fits(half), mix)
        assert pick is not None
        picks.append(pick[1])
        nodes.take(pick[1], pick[2], half)
    # Halves pair up on one GPU, and on one node, before touching a node that could still take
    # a two-GPU job.
    assert picks == [picks[0]] * 4
    assert sorted(nodes.gpu[picks[0]].tolist()) == [0, 0]
