from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from suanli.simulation.fleet import PHILLY_GPUS_PER_NODE, philly_fleet, philly_pool_name
from suanli.simulation.traces.philly import load_philly
from suanli.simulation.workload import Workload
from tests.unit.simulation.conftest import need, raw_rows


@pytest.fixture(scope="module")
def philly_csv(traces: Path) -> Path:
    return need(traces / "philly" / "philly.csv")


@pytest.fixture(scope="module")
def philly(philly_csv: Path) -> Workload:
    return load_philly(philly_csv)


def test_every_row_becomes_a_job_sorted_by_submit_time(philly: Workload, philly_csv: Path) -> None:
    rows = raw_rows(philly_csv)
    assert len(philly) == len(rows) and philly.skipped == 0
    submits = [job.submit_s for job in philly.jobs]
    assert submits == sorted(submits)
    assert submits[0] == 0.0
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in rows]
    assert philly.span_s == (max(stamps) - min(stamps)).total_seconds()
    assert len({job.id for job in philly.jobs}) == len(rows)


def test_jobs_carry_the_files_durations_gpus_and_vcs(philly: Workload, philly_csv: Path) -> None:
    rows = raw_rows(philly_csv)
    assert Counter((float(r["duration"]), int(r["num_gpus"]), r["cluster"]) for r in rows) == Counter(
        (job.duration_s, job.gpus, job.group) for job in philly.jobs
    )
    # gpu_time is derived in the file; the loaded jobs reproduce it.
    assert math.isclose(sum(float(r["gpu_time"]) for r in rows), sum(j.duration_s * j.gpus for j in philly.jobs))
    assert all(job.gpu_milli == 1000 for job in philly.jobs if job.gpus)


def test_a_job_keeps_its_row_and_offset(philly: Workload, philly_csv: Path) -> None:
    rows = raw_rows(philly_csv)
    start = min(datetime.fromisoformat(r["timestamp"]) for r in rows)
    by_id = {job.id: job for job in philly.jobs}
    for index in (0, len(rows) // 2, len(rows) - 1):
        job = by_id[f"philly-{index + 1}"]
        assert job.submit_s == (datetime.fromisoformat(rows[index]["timestamp"]) - start).total_seconds()
        assert job.group == rows[index]["cluster"]


def test_philly_fleet_gives_each_vc_its_own_center(philly: Workload, traces: Path) -> None:
    vc_csv = need(traces / "philly" / "philly_vc.csv")
    listed = {r["vc"]: int(r["node num"]) for r in raw_rows(vc_csv)}
    fleet = philly_fleet(vc_csv, philly)
    pools = {center.name: pool for center in fleet.centers for pool in center.pools}
    assert fleet.group_centers() == {
        vc: frozenset({philly_pool_name(vc)}) for vc in set(listed) | {j.group for j in philly.jobs}
    }
    for vc, nodes in listed.items():
        pool = pools[philly_pool_name(vc)]
        assert pool.nodes == nodes and pool.accelerators_per_node == PHILLY_GPUS_PER_NODE
    largest: dict[str, int] = {}
    for job in philly.jobs:
        largest[job.group] = max(largest.get(job.group, 0), job.gpus)
    absent = set(largest) - set(listed)
    assert absent, "the trace has VCs the VC list lacks (per the data README)"
    assert len(pools) == len(set(listed) | set(largest))
    for vc, gpus in largest.items():
        assert pools[philly_pool_name(vc)].accelerators >= gpus, f"the largest job of VC {vc} does not fit"


def test_without_a_workload_the_fleet_is_the_vc_list(traces: Path) -> None:
    vc_csv = need(traces / "philly" / "philly_vc.csv")
    fleet = philly_fleet(vc_csv)
    assert sum(p.nodes for c in fleet.centers for p in c.pools) == sum(int(r["node num"]) for r in raw_rows(vc_csv))
