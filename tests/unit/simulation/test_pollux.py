from __future__ import annotations

import math
from pathlib import Path

from suanli.simulation.traces.pollux import load_pollux
from tests.unit.simulation.conftest import need, raw_rows


def workloads(traces: Path) -> list[Path]:
    found = sorted((traces / "pollux" / "workloads").glob("workload-*.csv"))
    assert len(found) == 8, f"Pollux's eight workloads ship under {traces / 'pollux'}"
    return found


def test_every_workload_loads_with_its_jobs(traces: Path) -> None:
    for path in workloads(traces):
        rows = raw_rows(path)
        workload = load_pollux(path)
        assert len(workload) == len(rows) and workload.skipped == 0
        assert [j.submit_s for j in workload.jobs] == sorted(float(r["time"]) for r in rows)
        by_name = {r["name"]: r for r in rows}
        for job in workload.jobs:
            row = by_name[job.id]
            assert job.gpus == int(row["num_replicas"]) and job.model == row["application"]
            assert job.attr("batch_size") == row["batch_size"]
            assert math.isfinite(job.duration_s) and job.duration_s > 0


def test_a_one_gpu_job_runs_its_profiled_iterations_at_the_measured_step_time(traces: Path) -> None:
    """ncf at 1 replica: placement "1" at the whole batch; no interpolation, no accumulation."""
    path = workloads(traces)[0]
    jobs = [j for j in load_pollux(path).jobs if j.gpus == 1]
    assert jobs, "workload-1 has one-GPU jobs"
    job = jobs[0]
    batch = job.attr("batch_size")
    profile = traces / "pollux" / "traces" / str(job.model)
    iterations = float(raw_rows(need(profile / f"validation-{batch}.csv"))[-1]["iteration"])
    measured = [
        float(r["step_time"])
        for r in raw_rows(profile / "placements.csv")
        if r["placement"] == "1" and float(r["local_bsz"]) == float(str(batch))
    ]
    assert measured, "the profile measures this batch on one GPU"
    assert math.isclose(job.duration_s, iterations * sum(measured) / len(measured))


def test_more_replicas_of_the_same_job_finish_sooner(traces: Path) -> None:
    times: dict[tuple[str | None, str | None], dict[int, float]] = {}
    for path in workloads(traces):
        for job in load_pollux(path).jobs:
            times.setdefault((job.model, job.attr("batch_size")), {})[job.gpus] = job.duration_s
    compared = 0
    for per_gpus in times.values():
        ordered = [per_gpus[g] for g in sorted(per_gpus)]
        compared += len(ordered) - 1
        assert ordered == sorted(ordered, reverse=True)
    assert compared > 0
