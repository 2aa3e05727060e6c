"""Files in the format of Alibaba's openb lists (cluster-trace-gpu-v2023), made up here.

The real lists do not ship with Suanli (Alibaba gives no licence to redistribute them; see
src/suanli/simulation/data/README.md), so the openb tests read these: the same columns and the
same kinds of rows in about the real lists' proportions. Pods: CPU-only ones, one-GPU pods that
share a GPU (``gpu_milli`` below 1000), whole one-GPU pods and a few multi-GPU ones; phases
Running, Failed, Succeeded and Pending (never scheduled: no ``scheduled_time``). Nodes: the
lists' node shapes (G2, T4, P100, G3, V100M16, V100M32) and, in the all-node list, CPU-only ones.
Seeded: the same files every time.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
TIMED_COLUMNS = (*POD_COLUMNS, "gpu_spec", "qos", "pod_phase", "creation_time", "deletion_time", "scheduled_time")
# (CPUs, memory MiB, GPUs, model, how many) per node shape
NODE_SHAPES = (
    (96, 393216, 8, "G2", 50),
    (104, 524288, 2, "T4", 36),
    (16, 122880, 2, "P100", 10),
    (128, 786432, 8, "G3", 4),
    (32, 131072, 4, "V100M16", 3),
    (96, 786432, 8, "V100M32", 2),
)
CPU_NODES = 25  # in the all-node list only
SHARES = (200, 300, 500, 600, 800)  # the common partial-GPU requests
PHASES = (("Running", 64), ("Failed", 23), ("Pending", 11), ("Succeeded", 2))
CPUS = (3, 4, 8, 11, 12, 16, 32)


def write_nodes(path: Path, *, cpu_nodes: bool = False) -> Path:
    rows: list[tuple[object, ...]] = []
    for cpus, memory, gpus, model, count in NODE_SHAPES:
        rows += [(cpus * 1000, memory, gpus, model)] * count
    if cpu_nodes:
        rows += [(32000, 262144, 0, "")] * CPU_NODES
    return _write(path, NODE_COLUMNS, [(f"node-{i:04d}", *row) for i, row in enumerate(rows)])


def write_pods(path: Path, *, pods: int = 2000, seed: int = 0, timed: bool = True, shared: float = 0.44) -> Path:
    """``shared``: the share of one-GPU pods that ask for part of a GPU."""
    rng = random.Random(seed)
    phases = [phase for phase, weight in PHASES for _ in range(weight)]
    rows: list[tuple[object, ...]] = []
    created = 0
    for i in range(pods):
        cpus = rng.choice(CPUS)
        draw = rng.random()
        if draw < 0.13:
            gpus, milli = 0, 0
        elif draw < 0.99:
            gpus, milli = 1, rng.choice(SHARES) if rng.random() < shared else 1000
        else:
            gpus, milli = rng.choice((2, 4, 8)), 1000
        row: tuple[object, ...] = (f"pod-{i:04d}", cpus * 1000, cpus * 4096, gpus, milli)
        if timed:
            created += rng.randrange(0, 3000)
            phase = rng.choice(phases)
            scheduled = "" if phase == "Pending" else created + rng.randrange(0, 5)
            deleted = (created if scheduled == "" else int(scheduled)) + rng.randrange(60, 500_000)
            qos = rng.choice(("LS", "BE", "BE", "Burstable"))
            row = (*row, "", qos, phase, created, deleted, scheduled)
        rows.append(row)
    return _write(path, TIMED_COLUMNS if timed else POD_COLUMNS, rows)


def write_lists(folder: Path) -> Path:
    """The three pod lists (default, gpushare40 with more shared pods, multigpu50 without times)
    and the two node lists, as in the trace's csv folder."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pods(folder / "openb_pod_list_default.csv")
    write_pods(folder / "openb_pod_list_gpushare40.csv", seed=1, shared=0.7)
    write_pods(folder / "openb_pod_list_multigpu50.csv", seed=2, timed=False)
    write_nodes(folder / "openb_node_list_gpu_node.csv")
    write_nodes(folder / "openb_node_list_all_node.csv", cpu_nodes=True)
    return folder


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path
