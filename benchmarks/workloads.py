"""Fleets and backlogs for benchmarks, shaped like the public Philly trace."""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

from suanli.domain.centers import Center, CenterSpec, Pool
from suanli.scheduler.request import SchedulingRequest, Shape, simple_shape
from suanli.simulation.packaged import named_trace

PHILLY = named_trace("philly").path  # shipped with the package

# (model, accelerators per node, CNY per accelerator-hour)
MODELS = [
    ("H100", 8, 32.0),
    ("H800", 8, 28.0),
    ("A100-80G", 8, 18.0),
    ("A800", 8, 16.0),
    ("Ascend910B", 8, 12.0),
    ("V100", 8, 7.0),
    ("L40S", 8, 9.0),
    ("T4", 4, 2.5),
]


def philly_sizes(path: Path = PHILLY) -> list[tuple[int, float]]:
    """(GPUs, duration in seconds) of every job in the Philly trace, or a fitted mix without it."""
    if path.is_file():
        with path.open() as f:
            return [(int(row["num_gpus"]), float(row["duration"])) for row in csv.DictReader(f)]
    # The trace's own GPU-count histogram (see the trace README) with log-uniform durations.
    rng = random.Random(7)
    counts = {1: 76627, 2: 2250, 4: 1600, 8: 1300, 16: 300, 32: 170}
    sizes = [g for g, n in counts.items() for _ in range(n)]
    return [(g, 10 ** rng.uniform(1.5, 5)) for g in sizes]


def fleet(centers: int = 20, accelerators: int = 100_000, seed: int = 1) -> list[Center]:
    """``centers`` centers with 2–3 pools of mixed models, ``accelerators`` in all."""
    rng = random.Random(seed)
    layout: list[tuple[int, list[tuple[str, int, float]]]] = []
    for c in range(centers):
        layout.append((c, rng.sample(MODELS, rng.choice([2, 3]))))
    pool_count = sum(len(models) for _, models in layout)
    per_pool = accelerators / pool_count
    result = []
    for c, models in layout:
        pools = []
        for model, per_node, price in models:
            pools.append(
                Pool(
                    name=model.lower(),
                    accelerator=model,
                    accelerators_per_node=per_node,
                    cpus_per_node=128,
                    memory_gb_per_node=1024,
                    nodes=max(1, round(per_pool / per_node)),
                    price_per_accelerator_hour=price * rng.uniform(0.8, 1.2),
                    carbon_intensity=rng.uniform(100, 800),
                )
            )
        spec = CenterSpec(name=f"center-{c:02d}", owner=f"org-{c}", kind="ai", region=f"region-{c % 5}", pools=pools)
        result.append(Center(spec=spec))
    return result


def backlog(jobs: int = 100_000, seed: int = 2) -> list[SchedulingRequest]:
    """Philly-sized pending jobs; a quarter name a second accelerator model as an alternative."""
    rng = random.Random(seed)
    sizes = philly_sizes()
    models = [m for m, _, _ in MODELS if m != "T4"]
    requests = []
    for job_id in range(1, jobs + 1):
        gpus, duration = rng.choice(sizes)
        per_node, nodes = (gpus, 1) if gpus <= 8 else (8, gpus // 8)
        first = rng.choice(models)
        shape: Shape = simple_shape(first, per_node, nodes, time_limit=max(60.0, duration * 1.5))
        if rng.random() < 0.25:
            second = rng.choice([m for m in models if m != first])
            shape = replace(shape, alternatives=((first, per_node), (second, per_node)))
        requests.append(SchedulingRequest(job_id, rng.choice([0, 0, 0, 1, 5]), shape))
    return requests


def describe(requests: list[SchedulingRequest]) -> dict[str, int]:
    c = Counter(r.shape.alternatives[0][1] * r.shape.nodes for r in requests)
    return {f"{k} GPUs": v for k, v in sorted(c.items())}
