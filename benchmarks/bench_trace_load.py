"""Trace loading: seconds to load each public trace (best of ``--repeat``), and peak memory.

Target (issue 5): the whole Philly trace (82,247 jobs) parsed in well under 2 s on the 2-core
machine. Run: ``python benchmarks/bench_trace_load.py [--traces DIR] [--openb DIR] [--repeat 5]``;
the traces folder defaults to the one that ships with the package (``suanli.simulation.packaged``).
Alibaba's openb lists do not ship (no licence to redistribute them): they are timed when
``--openb`` names a folder holding them (docs/simulation.md says where to get them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from suanli.simulation.fleet import openb_fleet, philly_fleet
from suanli.simulation.packaged import DATA
from suanli.simulation.traces import generate_gavel, load_openb, load_philly, load_pollux
from suanli.simulation.workload import Workload


def cases(root: Path, openb: Path | None) -> dict[str, Callable[[], object]]:
    timed: dict[str, Callable[[], object]] = {
        "philly (82,247 jobs)": lambda: load_philly(root / "philly" / "philly.csv"),
        "philly fleet": lambda: philly_fleet(root / "philly" / "philly_vc.csv"),
        "pollux workload-1": lambda: load_pollux(root / "pollux" / "workloads" / "workload-1.csv"),
        "gavel 6,000 jobs": lambda: generate_gavel(
            root / "gavel" / "simulation_throughputs.json", jobs_per_hour=5.6, num_jobs=6000, multi_gpu=True
        ),
    }
    if openb is not None:
        timed |= {
            "openb default": lambda: load_openb(openb / "openb_pod_list_default.csv"),
            "openb gpushare40": lambda: load_openb(openb / "openb_pod_list_gpushare40.csv"),
            "openb multigpu50": lambda: load_openb(openb / "openb_pod_list_multigpu50.csv"),
            "openb fleet": lambda: openb_fleet(openb / "openb_node_list_gpu_node.csv"),
        }
    return timed


def measure(load: Callable[[], object], repeat: int) -> dict[str, float | int]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = load()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    load()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out: dict[str, float | int] = {"seconds": round(best, 4), "peak_mib": round(peak / 2**20, 1)}
    if isinstance(result, Workload):
        out["jobs"] = len(result)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=Path, default=DATA, help="the public traces' folder")
    parser.add_argument("--openb", type=Path, help="a folder with Alibaba's openb lists (not shipped)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {name: measure(load, args.repeat) for name, load in cases(args.traces, args.openb).items()}
    print(
        json.dumps(
            {"machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(), **results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
