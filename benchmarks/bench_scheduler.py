"""Scheduling throughput: 20 centers, 100,000 accelerators, 100,000 Philly-sized pending jobs.

Targets (issue 2): >= 50,000 placement decisions per second on one core; one cycle over the
whole backlog in under 2 s. Run: ``python benchmarks/bench_scheduler.py [--profile default]``.
Two cases: a cold cycle on an empty fleet (many placements) and a steady cycle on a full fleet
(the backlog mostly waits, with a backfill reservation in force).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

from workloads import backlog, describe, fleet

from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.snapshot import Snapshot

NOW = 1_800_000_000.0


def timed_cycle(scheduler: Scheduler, centers, allocations, queue):  # type: ignore[no-untyped-def]
    build_start = time.perf_counter()
    snapshot = Snapshot.build(centers, allocations)
    built = time.perf_counter()
    result = scheduler.run_cycle(snapshot, queue, NOW)
    done = time.perf_counter()
    return result, built - build_start, done - built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--accelerators", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    centers = fleet(20, args.accelerators)
    queue = backlog(args.jobs)
    scheduler = Scheduler(args.profile)
    report: dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "profile": args.profile,
        "centers": len(centers),
        "pools": sum(len(c.pools) for c in centers),
        "accelerators": sum(p.accelerators for c in centers for p in c.pools),
        "jobs": len(queue),
        "job_sizes": describe(queue),
    }
    for case in ("cold", "steady"):
        runs = []
        for _ in range(args.repeat):
            allocations = []
            if case == "steady":
                # Fill the fleet with the first cycle's placements, then schedule the rest.
                first, _, _ = timed_cycle(scheduler, centers, [], queue)
                placed = {d.job_id for d in first.placed}
                pool_names = {p.index: (p.center, p.name) for p in Snapshot.build(centers, []).pools}
                allocations = [
                    (
                        d.job_id,
                        *pool_names[d.choice.pool_index],
                        d.choice.node_indices,
                        d.choice.slots,
                        NOW + 3600.0 * (1 + d.job_id % 24),
                    )
                    for d in first.placed
                ]
                todo = [r for r in queue if r.job_id not in placed]
            else:
                todo = queue
            result, build_s, cycle_s = timed_cycle(scheduler, centers, allocations, todo)
            runs.append((cycle_s, build_s, len(result.placed), len(result.decisions), result.shapes_evaluated))
        cycle_s = statistics.median(r[0] for r in runs)
        best = min(runs)
        report[case] = {
            "decisions": best[3],
            "placed": best[2],
            "shapes": best[4],
            "snapshot_build_s": round(statistics.median(r[1] for r in runs), 4),
            "cycle_s_median": round(cycle_s, 4),
            "decisions_per_s": round(best[3] / cycle_s),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
