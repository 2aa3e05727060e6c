"""Simulator speed: full trace replays, and the scheduler's decision time per round as the fleet grows.

Targets (issue 5): the whole Philly trace (82,247 jobs) on the Philly fleet in at most 20 s with
FIFO and 60 s with preemptive LAS, under 2 GB; one Gavel-setup run (about 6,000
jobs, 108 GPUs) at 5.6 jobs/h in under 30 s; decision time per round near linear in fleet size.

Run: ``python benchmarks/bench_simulator.py [--traces DIR] [--only philly|gavel|scaling]``; the
traces folder defaults to the one that ships with the package (``suanli.simulation.packaged``).
Times include loading the trace; ``peak_rss_mb`` is the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from suanli.domain.centers import Pool
from suanli.simulation.engine import Simulation
from suanli.simulation.fleet import Fleet, FleetCenter, gavel_fleet, philly_fleet
from suanli.simulation.metrics import summarize
from suanli.simulation.packaged import DATA
from suanli.simulation.traces import generate_gavel, load_philly
from suanli.simulation.workload import TraceJob, Workload


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def philly(root: Path, profile: str) -> dict[str, object]:
    started = time.perf_counter()
    workload = load_philly(root / "philly" / "philly.csv")
    fleet = philly_fleet(root / "philly" / "philly_vc.csv", workload)
    result = Simulation(workload, fleet, profile).run()
    wall = time.perf_counter() - started
    summary = summarize(result)
    return {
        "case": f"philly, {len(workload.jobs)} jobs, {profile}",
        "wall_s": round(wall, 2),
        "simulate_s": round(result.wall_s, 2),
        "decision_s": round(result.decision_s, 2),
        "cycles": result.cycles,
        "jct_mean_h": round(summary.jct_mean_h, 3),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def gavel(root: Path, profile: str, rate: float) -> dict[str, object]:
    started = time.perf_counter()
    workload = generate_gavel(root / "gavel" / "simulation_throughputs.json", jobs_per_hour=rate, num_jobs=6000)
    result = Simulation(workload, gavel_fleet(), profile).run()
    wall = time.perf_counter() - started
    return {
        "case": f"gavel 108 GPUs, 6000 jobs at {rate} jobs/h, {profile}",
        "wall_s": round(wall, 2),
        "decision_s": round(result.decision_s, 2),
        "cycles": result.cycles,
        "jct_mean_h": round(summarize(result).jct_mean_h, 2),
    }


def scaling(gpus: int) -> dict[str, object]:
    """One busy round: a fleet of ``gpus`` (8 per node, 4 models, 10 centers) and a queue of
    twice as many single- to 8-GPU jobs as fit; the time of the first cycle, which sees them all."""
    models = ["A100-80G", "V100", "Ascend910B", "T4"]
    per_center = max(1, gpus // 8 // 10)
    centers = tuple(
        FleetCenter(
            name=f"c{i}",
            pools=(
                Pool(
                    name="gpu",
                    accelerator=models[i % 4],
                    accelerators_per_node=8,
                    cpus_per_node=128,
                    memory_gb_per_node=1024,
                    nodes=per_center,
                    price_per_accelerator_hour=1.0 + i,
                ),
            ),
        )
        for i in range(10)
    )
    jobs = tuple(
        TraceJob(id=str(i), submit_s=0.0, duration_s=3600.0, gpus=(1, 2, 4, 8)[i % 4]) for i in range(gpus * 2 // 3)
    )
    simulation = Simulation(Workload("scaling", jobs, None), Fleet(name=f"{gpus}", centers=centers), "default")
    result = simulation.run()
    return {
        "fleet_gpus": per_center * 8 * 10,
        "queued_jobs": len(jobs),
        "first_round_s": round(result.cycle_times[0], 4),
        "per_job_us": round(result.cycle_times[0] / len(jobs) * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=Path, default=DATA, help="the public traces' folder")
    parser.add_argument("--only", choices=["philly", "gavel", "scaling"])
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    if args.only in (None, "scaling"):
        rows += [scaling(gpus) for gpus in (100, 1_000, 10_000, 100_000)]
    if args.only in (None, "gavel"):
        rows += [gavel(args.traces, profile, 5.6) for profile in ("fifo", "gavel", "suanli-jct")]
    if args.only in (None, "philly"):
        rows += [philly(args.traces, profile) for profile in ("fifo", "default", "las")]
    print(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores", "results": rows}, indent=2))


if __name__ == "__main__":
    main()
