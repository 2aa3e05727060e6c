"""Packing GPU-sharing pods as FGD (USENIX ATC'23) measures it, on the Alibaba openb traces.

Pods drawn at random from a pod list arrive one a second and never leave until they ask for
1.3x the cluster's 6,212 GPUs; the figure is the share of GPUs allocated when arrivals reach
100% of capacity, for fragmentation-aware packing (fgd), best fit and random, over 3 seeds.
Run: ``python benchmarks/fidelity_fgd.py --openb DIR [--lists default gpushare40 multigpu50] [--seeds 3]``.

The openb lists do not ship with Suanli (Alibaba gives no licence to redistribute them):
``--openb`` is a folder holding ``openb_pod_list_*.csv`` and ``openb_node_list_gpu_node.csv``
from https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2023/csv.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from suanli.simulation.engine import Simulation
from suanli.simulation.fleet import openb_fleet
from suanli.simulation.metrics import allocated_when_demand_reaches
from suanli.simulation.traces.openb import load_openb
from suanli.simulation.workload import filling_arrivals


def one(args: tuple[str, str, int, Path]) -> dict[str, float | int | str]:
    profile, pod_list, seed, folder = args
    fleet = openb_fleet(folder / "openb_node_list_gpu_node.csv")
    pods = filling_arrivals(load_openb(folder / f"openb_pod_list_{pod_list}.csv"), fleet.gpus(), 1.3, seed)
    started = time.perf_counter()
    result = Simulation(pods, fleet, profile).run()
    return {
        "profile": profile,
        "list": pod_list,
        "seed": seed,
        "allocated": allocated_when_demand_reaches(result, 1.0),
        "wall_s": time.perf_counter() - started,
        "pods": len(pods.jobs),
        "gpus": fleet.gpus(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--openb", type=Path, required=True, help="a folder with the openb lists (not shipped; see the docstring)"
    )
    parser.add_argument("--lists", nargs="+", default=["default", "gpushare40", "multigpu50"])
    parser.add_argument("--profiles", nargs="+", default=["fgd", "best-fit", "random-fit"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    cells = [(p, pod_list, s, args.openb) for pod_list in args.lists for p in args.profiles for s in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(one, cells))
    table = []
    for pod_list in args.lists:
        for profile in args.profiles:
            runs = [r for r in rows if r["list"] == pod_list and r["profile"] == profile]
            allocated = statistics.mean(float(r["allocated"]) for r in runs)
            table.append(
                {
                    "list": pod_list,
                    "profile": profile,
                    "allocated_at_100pct": round(allocated, 4),
                    "unallocated_gpus": round((1 - allocated) * int(runs[0]["gpus"])),
                    "wall_s_per_run": round(statistics.mean(float(r["wall_s"]) for r in runs), 1),
                    "pods": runs[0]["pods"],
                }
            )
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
