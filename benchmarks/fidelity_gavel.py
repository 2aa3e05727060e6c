"""Fidelity against Gavel (OSDI'20) Figure 8: average JCT of jobs 4000-5000, 3 seeds.

Setup as the paper: 36 V100 + 36 P100 + 36 K80, single-GPU jobs from Gavel's generator with
Poisson arrivals, 360 s rounds. No preemption cost (Gavel's simulator charges none).
Run: ``python benchmarks/fidelity_gavel.py [--rates 0.4 4.0 5.6] [--profiles fifo gavel gavel-agnostic]``.
Besides Gavel's policies, ``suanli-jct`` (and ``suanli-jct-attained``, without the oracle) is our
own time sharing (scheduler/timeshare.py, FairThroughput), judged by the same window. Next to the
average JCT: the longest JCT and finish-time fairness (JCT / run time alone on the fastest model),
mean and max, so a policy cannot buy its average by starving a few jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from suanli.simulation.engine import RequestPolicy, Simulation
from suanli.simulation.fleet import gavel_fleet
from suanli.simulation.packaged import named_trace
from suanli.simulation.traces import generate_gavel

# Gavel's own simulator, Figure 8 (average JCT in hours).
PUBLISHED = {
    ("gavel-agnostic", 0.4): 23.3,
    ("gavel", 0.4): 17.6,
    ("gavel-agnostic", 4.0): 23.5,
    ("gavel", 4.0): 16.8,
    ("gavel-agnostic", 5.6): 96.0,
    ("gavel", 5.6): 29.0,
    ("fifo", 0.4): 17.6,
    ("fifo", 4.0): 25.4,
}


def one(args: tuple[str, float, int, str]) -> dict[str, float | int | str]:
    profile, rate, seed, matrix = args
    started = time.perf_counter()
    workload = generate_gavel(matrix, jobs_per_hour=rate, num_jobs=6000, seed=seed)
    result = Simulation(workload, gavel_fleet(), profile, requests=RequestPolicy(restore_s=0.0)).run()
    finished = [r for r in result.records[4000:5000] if r.jct_s is not None]
    window = [r.jct_s for r in finished if r.jct_s is not None]
    ftf = [r.jct_s / r.ideal_s for r in finished if r.jct_s is not None and r.ideal_s > 0]
    return {
        "profile": profile,
        "rate": rate,
        "seed": seed,
        "jct_h": statistics.mean(window) / 3600 if window else float("nan"),
        "max_jct_h": max(window) / 3600 if window else float("nan"),
        "ftf_mean": statistics.mean(ftf) if ftf else float("nan"),
        "ftf_max": max(ftf) if ftf else float("nan"),
        "unfinished": 1000 - len(window),
        "wall_s": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", default=str(named_trace("gavel").path), help="Gavel's throughput matrix")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.4, 4.0, 5.6])
    parser.add_argument(
        "--profiles",
        nargs="+",
        default=["fifo", "gavel", "gavel-agnostic"],
        choices=["fifo", "gavel", "gavel-agnostic", "suanli-jct", "suanli-jct-attained", "las", "srtf", "srtf-fast"],
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    cells = [(p, r, s, args.matrix) for p in args.profiles for r in args.rates for s in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, cells))
    table = []
    for profile in args.profiles:
        for rate in args.rates:
            runs = [row for row in rows if row["profile"] == profile and row["rate"] == rate]
            ours = statistics.mean(float(r["jct_h"]) for r in runs)
            published = PUBLISHED.get((profile, rate))
            table.append(
                {
                    "profile": profile,
                    "rate": rate,
                    "jct_h": round(ours, 2),
                    "published_h": published,
                    "off_by": f"{(ours / published - 1) * 100:+.0f}%" if published else None,
                    "max_jct_h": round(max(float(r["max_jct_h"]) for r in runs), 1),
                    "ftf_mean": round(statistics.mean(float(r["ftf_mean"]) for r in runs), 2),
                    "ftf_max": round(max(float(r["ftf_max"]) for r in runs), 2),
                    "wall_s_per_run": round(statistics.mean(float(r["wall_s"]) for r in runs), 1),
                }
            )
    print(json.dumps({"rows": rows, "table": table}, indent=2))


if __name__ == "__main__":
    main()
