"""The simulation engine: a virtual clock around the server's scheduler cycle."""

from __future__ import annotations

import pytest

from suanli.domain.centers import Pool
from suanli.simulation.engine import RequestPolicy, Simulation
from suanli.simulation.fleet import Fleet, FleetCenter
from suanli.simulation.metrics import allocation_curve, jain, summarize, utilization
from suanli.simulation.workload import TraceJob, Workload


def pool(name: str = "gpu", model: str = "V100", per_node: int = 4, nodes: int = 1, price: float = 1.0) -> Pool:
    return Pool(
        name=name,
        accelerator=model,
        accelerators_per_node=per_node,
        cpus_per_node=64,
        memory_gb_per_node=256,
        nodes=nodes,
        price_per_accelerator_hour=price,
    )


def fleet(*centers: FleetCenter) -> Fleet:
    return Fleet(name="test", centers=centers)


def workload(*jobs: TraceJob, reference: str | None = None) -> Workload:
    return Workload("test", tuple(sorted(jobs, key=lambda j: j.submit_s)), reference_accelerator=reference)


def job(name: str, submit: float, duration: float, gpus: int = 1, group: str = "") -> TraceJob:
    return TraceJob(id=name, submit_s=submit, duration_s=duration, gpus=gpus, group=group)


def test_jobs_queue_for_capacity_and_start_as_it_frees_up() -> None:
    # Four GPUs: a 4-GPU job fills them; two later 2-GPU jobs wait for its end, then run together.
    jobs = [job("big", 0, 100, gpus=4), job("a", 10, 50, gpus=2), job("b", 20, 30, gpus=2)]
    result = Simulation(workload(*jobs), fleet(FleetCenter(name="c", pools=(pool(),))), "fifo").run()
    by_id = {r.job.id: r for r in result.records}
    assert (by_id["big"].start_s, by_id["big"].end_s) == (0, 100)
    assert (by_id["a"].start_s, by_id["a"].end_s) == (100, 150)
    assert (by_id["b"].start_s, by_id["b"].end_s) == (100, 130)
    assert by_id["a"].queued_s == 90 and by_id["b"].jct_s == 110
    assert result.busy == [(0.0, 4), (130.0, 2), (150.0, 0)]
    summary = summarize(result)
    assert summary.makespan_h == pytest.approx(150 / 3600)
    # Busy: 4 GPUs for 100 s, 4 for 30 s, 2 for 20 s, out of 4 x 150.
    assert summary.utilization == pytest.approx((4 * 130 + 2 * 20) / (4 * 150))


def test_a_group_runs_only_on_the_centers_that_list_it() -> None:
    centers = (
        FleetCenter(name="vc-a", groups=("a",), pools=(pool(per_node=2),)),
        FleetCenter(name="vc-b", groups=("b",), pools=(pool(per_node=2),)),
    )
    jobs = [job(f"a{i}", 0, 10, group="a") for i in range(4)] + [job("b0", 0, 10, group="b")]
    result = Simulation(workload(*jobs), fleet(*centers), "fifo").run()
    by_id = {r.job.id: r for r in result.records}
    assert {by_id[f"a{i}"].center for i in range(4)} == {"vc-a"}
    assert sorted(by_id[f"a{i}"].start_s or 0 for i in range(4)) == [0, 0, 10, 10]  # 2 GPUs: two rounds
    assert (by_id["b0"].center, by_id["b0"].start_s) == ("vc-b", 0)


def test_run_time_scales_with_the_accelerator_it_got() -> None:
    # The catalog rates A100-80G 2.2x a V100: a job measured on V100 runs 2.2x faster there.
    centers = (FleetCenter(name="fast", pools=(pool(model="A100-80G", per_node=1, price=0.1),)),)
    result = Simulation(workload(job("x", 0, 220), reference="V100"), fleet(*centers), "default").run()
    [record] = result.records
    assert record.accelerator == "A100-80G"
    assert record.run_s == pytest.approx(100)


def test_a_job_no_center_can_hold_never_runs_and_says_why() -> None:
    jobs = [job("small", 0, 10), job("huge", 0, 10, gpus=64)]
    result = Simulation(workload(*jobs), fleet(FleetCenter(name="c", pools=(pool(),))), "fifo").run()
    [never] = result.never_ran
    assert never.job.id == "huge" and "c/gpu" in never.why_not
    assert summarize(result).never_ran == 1


def test_with_oracle_time_limits_backfill_starts_a_short_job_early() -> None:
    # 4 GPUs; "long" holds 2 until 100. "wide" needs all 4 and waits; "short" (2 GPUs, ends at 60)
    # may start now only if backfill knows it ends before "wide" can start.
    jobs = [job("long", 0, 100, gpus=2), job("wide", 1, 10, gpus=4), job("short", 2, 50, gpus=2)]
    center = (FleetCenter(name="c", pools=(pool(),)),)
    blind = Simulation(workload(*jobs), fleet(*center), "default").run()
    oracle = Simulation(workload(*jobs), fleet(*center), "default", requests=RequestPolicy(oracle_time_limits=True))
    told = oracle.run()
    start = {r.job.id: r.start_s for r in told.records}
    assert start["short"] == 2 and start["wide"] == 100
    assert {r.job.id: r.start_s for r in blind.records}["short"] != 2


def test_cycles_on_a_timer_coalesce_events() -> None:
    jobs = [job(f"j{i}", i * 7.0, 5) for i in range(20)]
    centers = (FleetCenter(name="c", pools=(pool(),)),)
    every_event = Simulation(workload(*jobs), fleet(*centers), "fifo").run()
    timed = Simulation(workload(*jobs), fleet(*centers), "fifo", cycle_interval_s=60).run()
    assert timed.cycles < every_event.cycles
    assert all((r.start_s or 0) % 60 == 0 for r in timed.records)


def test_utilization_and_jain() -> None:
    assert utilization([(0, 2), (10, 0)], capacity=4, start=0, end=20) == pytest.approx(0.25)
    assert jain([1, 1, 1]) == 1.0
    assert jain([1, 0, 0]) == pytest.approx(1 / 3)


def one_gpu() -> Fleet:
    return fleet(FleetCenter(name="c", pools=(pool(per_node=1),)))


def starts(result: object) -> dict[str, tuple[float | None, float | None]]:
    return {r.job.id: (r.start_s, r.end_s) for r in result.records}  # type: ignore[attr-defined]


def test_sjf_runs_the_shortest_waiting_job_first_without_preempting() -> None:
    jobs = [job("first", 0, 100), job("long", 1, 300), job("short", 2, 10), job("mid", 3, 50)]
    result = Simulation(workload(*jobs), one_gpu(), "sjf").run()
    assert starts(result) == {
        "first": (0, 100),
        "short": (100, 110),
        "mid": (110, 160),
        "long": (160, 460),
    }
    assert summarize(result).preemptions == 0


def test_srtf_preempts_a_longer_job_and_resumes_it_after_the_restore_cost() -> None:
    jobs = [job("long", 0, 1000), job("short", 100, 50)]
    policy = RequestPolicy(restore_s=20)
    result = Simulation(workload(*jobs), one_gpu(), "srtf", requests=policy).run()
    times = starts(result)
    assert times["short"] == (100, 150)
    # 100 s done before the preemption; 900 s left after 20 s of restore from t=150.
    assert times["long"] == (0, 150 + 20 + 900)
    [long] = [r for r in result.records if r.job.id == "long"]
    assert long.preemptions == 1 and long.held_s == pytest.approx(100 + 920)


def test_las_moves_a_job_back_once_its_service_crosses_a_threshold() -> None:
    # Thresholds at 1, 10, 100 accelerator-hours. "old" has run 1 h (queue 1) when "new"
    # arrives at 1.5 h (queue 0): "new" preempts it; when "new" crosses 1 h itself, both are in
    # queue 1 and FIFO order gives the GPU back to "old".
    hour = 3600.0
    jobs = [job("old", 0, 3 * hour), job("new", 1.5 * hour, 2 * hour)]
    result = Simulation(workload(*jobs), one_gpu(), "las", requests=RequestPolicy(restore_s=0)).run()
    by_id = {r.job.id: r for r in result.records}
    assert by_id["new"].start_s == 1.5 * hour
    assert by_id["old"].preemptions >= 1
    # "new" runs 1 h in queue 0, then yields to "old", which needs 1.5 h more.
    assert by_id["old"].end_s == pytest.approx(1.5 * hour + 1 * hour + 1.5 * hour)
    assert by_id["new"].end_s == pytest.approx(by_id["old"].end_s + 1 * hour)


def test_qssf_orders_by_what_the_groups_history_predicts() -> None:
    # Group "quick" has finished short jobs, group "slow" long ones; later jobs of "quick" go first
    # although they came later and their own run time is not known to the scheduler.
    jobs = [
        job("q0", 0, 10, group="quick"),
        job("s0", 0, 500, group="slow"),
        job("blocker", 600, 100, group="other"),
        job("s1", 601, 100, group="slow"),
        job("q1", 602, 100, group="quick"),
    ]
    result = Simulation(workload(*jobs), one_gpu(), "qssf").run()
    times = starts(result)
    assert times["q1"][0] == 700 and times["s1"][0] == 800


def test_gavel_time_sharing_rotates_jobs_every_round_and_finishes_them_all() -> None:
    # Four jobs, two GPUs of different speed (catalog: A100-80G 2.2x a V100): each round the jobs
    # furthest behind their share run, so all four make progress before any finishes.
    centers = (FleetCenter(name="c", pools=(pool("fast", model="A100-80G", per_node=1), pool("slow", per_node=1))),)
    jobs = [job(f"j{i}", 0, 3 * 3600) for i in range(4)]
    result = Simulation(workload(*jobs, reference="V100"), fleet(*centers), "gavel").run()
    assert all(r.end_s is not None for r in result.records)
    assert all(r.start_s is not None and r.start_s <= 360 for r in result.records)  # all within two rounds
    assert summarize(result).preemptions > 0
    used = {r.job.id: r.accelerator_s for r in result.records}
    assert all(seconds > 0 for seconds in used.values())


def test_srtf_fast_sends_each_job_to_the_fastest_free_model() -> None:
    # Equal prices; the catalog rates A100-80G 2.2x a V100. The shortest job gets the fast GPU,
    # the next one the slow GPU; plain SRTF (no speed score) has no reason to prefer either.
    centers = (FleetCenter(name="c", pools=(pool("slow", per_node=1), pool("fast", model="A100-80G", per_node=1))),)
    jobs = [job("short", 0, 100), job("long", 0, 1000)]
    result = Simulation(workload(*jobs, reference="V100"), fleet(*centers), "srtf-fast").run()
    placed = {r.job.id: r.accelerator for r in result.records}
    assert placed == {"short": "A100-80G", "long": "V100"}


def test_the_allocation_curve_follows_arrivals_and_what_fits() -> None:
    # Four GPUs; jobs that never end (as openb pods): 2, then 4 (does not fit next to the 2),
    # then 2 more. Asked: 50%, 150%, 200% of the fleet; allocated then: 50%, 50%, 100%.
    forever = 10**9
    jobs = [job("a", 0, forever, gpus=2), job("b", 10, forever, gpus=4), job("c", 20, forever, gpus=2)]
    result = Simulation(workload(*jobs), fleet(FleetCenter(name="c", pools=(pool(),))), "fifo").run()
    assert allocation_curve(result) == [(0.5, 0.5), (1.5, 0.5), (2.0, 1.0)]
    assert summarize(result).allocated_at_full_demand == 0.5
