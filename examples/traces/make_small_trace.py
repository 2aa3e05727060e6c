"""Writes small.csv next to this script: 400 training jobs over about 40 hours, for trying
`suanli simulate` on a small regional network (examples/fleets/). Fixed seed: the committed
small.csv is what this script writes.

    python examples/traces/make_small_trace.py

Columns: job_id; submit_time (seconds from the start); runtime (seconds); num_gpu; tenant
(a lab or company). Arrivals are Poisson, busier by day than by night; sizes are mostly
1-8 GPUs with a few 16- and 32-GPU gangs; run times are log-normal (median about 1.5 h).
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

JOBS = 400
SEED = 2026
TENANTS = ("qdu-nlp", "ouc-ocean", "haier-vision", "sdu-bio", "startup-llm")
TENANT_WEIGHTS = (30, 20, 20, 15, 15)
SIZES = (1, 2, 4, 8, 16, 32)
SIZE_WEIGHTS = (30, 20, 20, 18, 8, 4)
MEAN_PER_HOUR = 10.0  # jobs per hour, averaged over a day


def rate(hour: float) -> float:
    """Jobs per hour at ``hour``: a day peak at 14:00, a trough at 02:00."""
    return MEAN_PER_HOUR * (1 + 0.6 * math.cos(2 * math.pi * (hour - 14) / 24))


def main() -> None:
    rng = random.Random(SEED)
    rows = []
    now = 9.0  # hours: the trace starts at 09:00
    for i in range(JOBS):
        # Thinning: a Poisson process with a time-varying rate.
        while True:
            now += rng.expovariate(MEAN_PER_HOUR * 1.6)
            if rng.random() < rate(now) / (MEAN_PER_HOUR * 1.6):
                break
        gpus = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        runtime = min(24 * 3600, max(120, rng.lognormvariate(math.log(1.5 * 3600), 1.0)))
        tenant = rng.choices(TENANTS, TENANT_WEIGHTS)[0]
        rows.append((f"job-{i:04d}", round((now - 9.0) * 3600), round(runtime), gpus, tenant))
    path = Path(__file__).with_name("small.csv")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("job_id", "submit_time", "runtime", "num_gpu", "tenant"))
        writer.writerows(rows)
    print(f"wrote {len(rows)} jobs to {path}")


if __name__ == "__main__":
    main()
