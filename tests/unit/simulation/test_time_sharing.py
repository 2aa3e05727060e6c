"""Round-based time sharing in the simulator: Gavel's max-min fairness and Suanli's fair-throughput
policy, on a short stretch of Gavel's workload at the load of its Figure 8's last point."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from suanli.simulation.engine import RequestPolicy, Simulation, SimulationResult
from suanli.simulation.fleet import gavel_fleet
from suanli.simulation.traces.gavel import generate_gavel
from tests.unit.simulation.conftest import need


@pytest.fixture(scope="module")
def results(traces: Path) -> dict[str, SimulationResult]:
    matrix = need(traces / "gavel" / "simulation_throughputs.json")
    workload = generate_gavel(matrix, jobs_per_hour=5.6, num_jobs=400, seed=1)
    return {
        profile: Simulation(workload, gavel_fleet(), profile, requests=RequestPolicy(restore_s=0.0)).run()
        for profile in ("gavel", "suanli-jct", "suanli-jct-attained")
    }


@pytest.mark.parametrize("profile", ["gavel", "suanli-jct", "suanli-jct-attained"])
def test_every_job_finishes_and_runs_its_whole_work(results: dict[str, SimulationResult], profile: str) -> None:
    result = results[profile]
    assert not result.never_ran
    assert len(result.finished) == len(result.records)
    for record in result.records:
        assert record.jct_s is not None
        assert record.jct_s >= record.ideal_s - 1e-6  # no faster than alone on its fastest model


@pytest.mark.parametrize("profile", ["suanli-jct", "suanli-jct-attained"])
def test_fair_throughput_beats_max_min_fairness_on_average_jct_without_starving_anyone(
    results: dict[str, SimulationResult], profile: str
) -> None:
    def jcts(result: SimulationResult) -> list[float]:
        return [r.jct_s for r in result.records if r.jct_s is not None]

    def ftfs(result: SimulationResult) -> list[float]:
        return [r.jct_s / r.ideal_s for r in result.records if r.jct_s is not None and r.ideal_s > 0]

    ours, gavel = results[profile], results["gavel"]
    assert statistics.mean(jcts(ours)) < 0.9 * statistics.mean(jcts(gavel))
    assert max(jcts(ours)) <= 1.1 * max(jcts(gavel))
    assert max(ftfs(ours)) <= 1.1 * max(ftfs(gavel))
