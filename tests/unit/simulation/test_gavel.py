from __future__ import annotations

import ast
import json
import math
from collections import Counter
from pathlib import Path

import pytest

from suanli.simulation.catalog import TRACE_ACCELERATORS, trace_catalog
from suanli.simulation.fleet import gavel_fleet
from suanli.simulation.traces.gavel import generate_gavel
from suanli.simulation.workload import Workload
from tests.unit.simulation.conftest import need

GPUS = {"v100": "V100", "p100": "P100", "k80": "K80"}


@pytest.fixture(scope="module")
def matrix_path(traces: Path) -> Path:
    return need(traces / "gavel" / "simulation_throughputs.json")


@pytest.fixture(scope="module")
def matrix(matrix_path: Path) -> dict[str, dict[tuple[str, int], float]]:
    raw = json.loads(matrix_path.read_text())
    return {gpu: {ast.literal_eval(k): v["null"] for k, v in raw[gpu].items()} for gpu in GPUS}


@pytest.fixture(scope="module")
def single(matrix_path: Path) -> Workload:
    return generate_gavel(matrix_path, jobs_per_hour=4.0, num_jobs=6000, seed=7)


def test_the_same_seed_gives_the_same_jobs(matrix_path: Path, single: Workload) -> None:
    again = generate_gavel(matrix_path, jobs_per_hour=4.0, num_jobs=6000, seed=7)
    assert again.jobs == single.jobs
    other = generate_gavel(matrix_path, jobs_per_hour=4.0, num_jobs=6000, seed=8)
    assert other.jobs != single.jobs


@pytest.mark.parametrize("rate", [0.4, 4.0, 5.6])
def test_arrivals_are_poisson_at_the_requested_rate(matrix_path: Path, rate: float) -> None:
    n = 6000
    workload = generate_gavel(matrix_path, jobs_per_hour=rate, num_jobs=n, seed=3)
    gaps = [b.submit_s - a.submit_s for a, b in zip(workload.jobs, workload.jobs[1:], strict=False)]
    assert min(gaps) >= 0
    measured = n / (workload.jobs[-1].submit_s / 3600)
    # n exponential gaps: the rate estimate has a relative standard deviation of 1/sqrt(n) ~ 1.3%.
    assert abs(measured - rate) / rate < 5 / math.sqrt(n)
    # Exponential gaps: the standard deviation equals the mean.
    mean = sum(gaps) / len(gaps)
    std = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    assert abs(std / mean - 1) < 0.1
    assert [job.id for job in workload.jobs] == [f"gavel-{i}" for i in range(n)]


def test_job_types_and_durations_follow_gavels_generator(single: Workload, matrix: dict) -> None:  # type: ignore[type-arg]
    templates = {kind for kind, scale in matrix["v100"] if scale == 1}
    assert len(templates) == 26
    seen = Counter(job.model for job in single.jobs)
    assert set(seen) == templates
    expected = len(single) / len(templates)
    assert all(abs(count - expected) < 5 * math.sqrt(expected) for count in seen.values())
    assert all(job.gpus == 1 for job in single.jobs)
    long = sum(1 for job in single.jobs if job.duration_s >= 60 * 10**3)
    assert abs(long / len(single) - 0.2) < 5 * math.sqrt(0.2 * 0.8 / len(single))
    assert all(60 * 10**1.5 <= job.duration_s <= 60 * 10**4 for job in single.jobs)


def test_run_time_scales_with_each_accelerators_measured_throughput(single: Workload, matrix: dict) -> None:  # type: ignore[type-arg]
    catalog = trace_catalog()
    for job in single.jobs[:200]:
        assert job.model is not None and job.steps is not None
        key = (job.model, job.gpus)
        assert math.isclose(job.steps, job.duration_s * matrix["v100"][key])
        times = {name: single.run_time(job, name, catalog) for name in GPUS.values()}
        assert math.isclose(times["V100"], job.duration_s)
        for gpu, name in GPUS.items():
            assert math.isclose(times[name], job.steps / matrix[gpu][key])
        assert len(set(times.values())) == 3
    # An accelerator the matrix lacks falls back to the catalog's relative factor.
    job = single.jobs[0]
    assert math.isclose(
        single.run_time(job, "H100", catalog),
        job.duration_s * catalog.throughput("V100") / catalog.throughput("H100"),
    )


def test_multi_gpu_jobs_use_distributed_types_with_gavels_scale_mix(matrix_path: Path, matrix: dict) -> None:  # type: ignore[type-arg]
    workload = generate_gavel(matrix_path, jobs_per_hour=4.0, num_jobs=6000, seed=11, multi_gpu=True)
    scales = Counter(job.gpus for job in workload.jobs)
    n = len(workload)
    for scale, p in zip((1, 2, 4, 8), (0.7, 0.1, 0.15, 0.05), strict=True):
        assert abs(scales[scale] / n - p) < 5 * math.sqrt(p * (1 - p) / n)
    distributed = {kind for kind, scale in matrix["v100"] if scale > 1}
    assert {job.model for job in workload.jobs if job.gpus > 1} <= distributed
    assert all((job.model, job.gpus) in matrix["v100"] for job in workload.jobs)


def test_catalog_factors_for_p100_and_k80_are_the_matrixs_geometric_means(matrix: dict) -> None:  # type: ignore[type-arg]
    factors = {m.name: m.throughput for m in TRACE_ACCELERATORS}
    for gpu in ("p100", "k80"):
        ratios = [matrix[gpu][key] / matrix["v100"][key] for key in matrix["v100"] if key[1] == 1]
        geometric = math.exp(sum(map(math.log, ratios)) / len(ratios))
        assert abs(factors[GPUS[gpu]] - geometric) < 1e-3


def test_gavel_fleet_default_and_configured() -> None:
    assert gavel_fleet().accelerator_counts() == {"V100": 36, "P100": 36, "K80": 36}
    fleet = gavel_fleet({"V100": 64, "K80": 8}, gpus_per_node=4, price_per_accelerator_hour={"V100": 3.0})
    pools = {p.accelerator: p for p in fleet.centers[0].pools}
    assert pools["V100"].nodes == 16 and pools["K80"].nodes == 2
    assert pools["V100"].price_per_accelerator_hour == 3.0
