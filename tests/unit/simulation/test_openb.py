"""The openb loader and fleet, on files in openb's format (openb_like: the real lists do not ship)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from suanli.simulation.fleet import openb_fleet
from suanli.simulation.traces.openb import load_openb
from tests.unit.simulation.conftest import raw_rows
from tests.unit.simulation.openb_like import write_lists

LISTS = ("default", "gpushare40", "multigpu50")


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as the public traces are: openb's lists under alibaba_gpu_v2023/."""
    root = tmp_path_factory.mktemp("traces")
    write_lists(root / "alibaba_gpu_v2023")
    return root


def pod_list(traces: Path, variant: str) -> Path:
    return traces / "alibaba_gpu_v2023" / f"openb_pod_list_{variant}.csv"


@pytest.mark.parametrize("variant", LISTS)
def test_every_pod_is_loaded_with_its_gpu_share(traces: Path, variant: str) -> None:
    path = pod_list(traces, variant)
    rows = raw_rows(path)
    workload = load_openb(path)
    assert len(workload) == len(rows) and workload.skipped == 0
    submits = [job.submit_s for job in workload.jobs]
    assert submits == sorted(submits)
    shared = sum(1 for r in rows if r["num_gpu"] == "1" and int(r["gpu_milli"]) < 1000)
    assert shared > 0, "openb has GPU-sharing pods"
    assert sum(1 for job in workload.jobs if 0 < job.gpu_milli < 1000) == shared
    assert all(job.gpus == 1 for job in workload.jobs if job.gpu_milli < 1000 and job.gpus)
    expected_demand = sum(int(r["num_gpu"]) * int(r["gpu_milli"]) / 1000 for r in rows)
    assert math.isclose(sum(job.gpu_demand for job in workload.jobs), expected_demand)
    assert Counter(job.gpus for job in workload.jobs) == Counter(int(r["num_gpu"]) for r in rows)


def test_times_come_from_the_pod_lifecycle(traces: Path) -> None:
    path = pod_list(traces, "default")
    rows = {r["name"]: r for r in raw_rows(path)}
    workload = load_openb(path)
    pending = 0
    for job in workload.jobs:
        row = rows[job.id]
        assert job.submit_s == float(row["creation_time"])
        assert job.status == row["pod_phase"]
        started = row["scheduled_time"] or row["creation_time"]
        assert job.duration_s == float(row["deletion_time"]) - float(started)
        if not row["scheduled_time"]:
            pending += 1
            assert job.attr("scheduled") == "no"
    assert pending == sum(1 for r in rows.values() if not r["scheduled_time"])


def test_phases_keep_only_the_pods_asked_for(traces: Path) -> None:
    path = pod_list(traces, "default")
    rows = raw_rows(path)
    ran = {"Running", "Succeeded", "Failed"}
    workload = load_openb(path, phases=ran)
    assert len(workload) == sum(1 for r in rows if r["pod_phase"] in ran)
    assert workload.skipped == 0


def test_a_list_without_times_keeps_file_order_and_never_ends(traces: Path) -> None:
    path = pod_list(traces, "multigpu50")
    workload = load_openb(path)
    assert [job.id for job in workload.jobs] == [r["name"] for r in raw_rows(path)]
    assert all(job.submit_s == 0 and math.isinf(job.duration_s) for job in workload.jobs)


def test_openb_fleet_maps_models_and_counts_every_gpu(traces: Path) -> None:
    path = traces / "alibaba_gpu_v2023" / "openb_node_list_gpu_node.csv"
    nodes = raw_rows(path)
    fleet = openb_fleet(path)
    catalog = fleet.catalog()
    assert sum(fleet.accelerator_counts().values()) == sum(int(r["gpu"]) for r in nodes)
    assert sum(p.nodes for c in fleet.centers for p in c.pools) == len(nodes)
    by_model: Counter[str] = Counter()
    for r in nodes:
        by_model[catalog.canonical(r["model"])] += int(r["gpu"])
    assert fleet.accelerator_counts() == dict(by_model)
    assert catalog.canonical("V100M16") == catalog.canonical("V100M32") == "V100"
    assert {"G2", "P100"} <= set(fleet.accelerator_counts())


def test_cpu_nodes_join_only_when_asked(traces: Path) -> None:
    path = traces / "alibaba_gpu_v2023" / "openb_node_list_all_node.csv"
    nodes = raw_rows(path)
    with_cpu = openb_fleet(path, include_cpu_nodes=True)
    assert sum(p.nodes for c in with_cpu.centers for p in c.pools) == len(nodes)
    gpu_only = openb_fleet(path)
    assert sum(p.nodes for c in gpu_only.centers for p in c.pools) == sum(1 for r in nodes if int(r["gpu"]) > 0)


def test_shared_gpus_pack_tighter_with_fgd_than_at_random(traces: Path) -> None:
    """FGD's measure on 105 openb-shaped nodes: pods drawn from the default list fill the fleet to
    130% and never leave; fragmentation-aware packing strands the fewest GPUs."""
    from suanli.simulation.engine import Simulation
    from suanli.simulation.metrics import allocated_when_demand_reaches
    from suanli.simulation.workload import filling_arrivals

    fleet = openb_fleet(traces / "alibaba_gpu_v2023" / "openb_node_list_gpu_node.csv")
    pods = filling_arrivals(load_openb(pod_list(traces, "default")), fleet.gpus(), 1.3, seed=0)
    asked = sum(job.gpu_demand for job in pods.jobs)
    assert fleet.gpus() * 1.3 <= asked < fleet.gpus() * 1.3 + 8
    allocated = {}
    for profile in ("fgd", "best-fit", "random-fit"):
        result = Simulation(pods, fleet, profile).run()
        allocated[profile] = allocated_when_demand_reaches(result, 1.0)
        ran = [r for r in result.records if r.start_s is not None]
        assert any(0 < r.gpus_held < 1 for r in ran), "pods that share a GPU hold their share of it"
        assert any(r.job.gpus == 0 and r.accelerator != "CPU" for r in ran), "CPU pods run on GPU nodes"
        assert all(r.end_s is None for r in result.records), "in this measure pods never leave"
    assert allocated["fgd"] >= allocated["best-fit"] > allocated["random-fit"]
