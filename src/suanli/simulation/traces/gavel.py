"""Gavel's synthetic workload (OSDI'20) with its measured throughput matrix.

``simulation_throughputs.json`` maps a GPU type (``k80``, ``p100``, ``v100``, and
``*_unconsolidated`` for multi-GPU jobs spread over servers) to job types written as Python
tuples, ``"('ResNet-18 (batch size 16)', 1)"`` = (model, scale factor); under each, ``"null"``
is the job's throughput alone in steps per second. The generator follows Gavel's
``generate_job``:

- arrivals: a Poisson process at ``jobs_per_hour`` (exponential gaps from t = 0);
- job type: uniform over the templates, i.e. the matrix's scale-factor-1 job types (26);
- scale factor: 1 unless ``multi_gpu``; then 1, 2, 4, 8 with probabilities 0.7, 0.1, 0.15, 0.05,
  and a job with scale factor > 1 redraws its type until it is one the matrix has at that scale
  (the distributed types: ResNet-18, ResNet-50, Transformer, LM);
- duration: 60·10^U(1.5, 3) s with probability 0.8, else 60·10^U(3, 4) s, on the reference
  accelerator (V100), turned into ``steps`` with the job's throughput there.

Each job carries ``throughputs`` (canonical accelerator → steps/s, consolidated placement), so
its run time on an accelerator is ``steps / throughput``. ``id`` is ``gavel-<n>``, n from 0 in
arrival order (Gavel's steady-state window is ids 4000–4999). Seeded: the same ``seed`` gives
the same workload.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suanli.simulation.catalog import trace_catalog
from suanli.simulation.traces._table import read_text
from suanli.simulation.traces.errors import TraceError
from suanli.simulation.workload import TraceJob, Workload

SCALE_FACTORS = (1, 2, 4, 8)
SCALE_PROBABILITIES = (0.7, 0.1, 0.15, 0.05)
GPU_TYPES = ("v100", "p100", "k80")
REFERENCE = "v100"


@dataclass(frozen=True, slots=True)
class ThroughputMatrix:
    """Isolated throughput (steps/s) per canonical accelerator and (job type, scale factor)."""

    source: Path
    isolated: Mapping[str, Mapping[tuple[str, int], float]]

    def job_types(self, scale_factor: int = 1, accelerator: str = "V100") -> tuple[str, ...]:
        return tuple(kind for kind, scale in self.isolated[accelerator] if scale == scale_factor)

    def of(self, job_type: str, scale_factor: int) -> dict[str, float]:
        return {
            gpu: table[(job_type, scale_factor)]
            for gpu, table in self.isolated.items()
            if (job_type, scale_factor) in table
        }


def load_throughputs(path: Path | str) -> ThroughputMatrix:
    """Read Gavel's matrix (the consolidated entries of k80, p100 and v100)."""
    path = Path(path)
    text = read_text(path, "Gavel throughput matrix (simulation_throughputs.json)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TraceError(path, error.lineno, f"char {error.colno}", f"not valid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise TraceError(path, None, None, "expected an object keyed by GPU type (k80, p100, v100)")
    missing = [gpu for gpu in GPU_TYPES if gpu not in data]
    if missing:
        raise TraceError(
            path, None, missing[0], f"no entry for GPU type(s) {', '.join(missing)}; is this Gavel's matrix?"
        )
    catalog = trace_catalog()
    isolated: dict[str, dict[tuple[str, int], float]] = {}
    for gpu in GPU_TYPES:
        table = data[gpu]
        if not isinstance(table, dict):
            raise TraceError(path, None, gpu, "expected an object keyed by job type")
        entries: dict[tuple[str, int], float] = {}
        for key, value in table.items():
            where = f"{gpu}.{key}"
            entries[_job_key(path, where, key)] = _isolated(path, where, value)
        isolated[catalog.canonical(gpu)] = entries
    return ThroughputMatrix(path, isolated)


def _job_key(path: Path, where: str, key: str) -> tuple[str, int]:
    try:
        parsed = ast.literal_eval(key)
    except (ValueError, SyntaxError):
        parsed = None
    if (
        not isinstance(parsed, tuple)
        or len(parsed) != 2
        or not isinstance(parsed[0], str)
        or not isinstance(parsed[1], int)
        or parsed[1] < 1
    ):
        raise TraceError(path, None, where, "a job type must read like \"('ResNet-18 (batch size 16)', 1)\"")
    return parsed[0], parsed[1]


def _isolated(path: Path, where: str, value: object) -> float:
    speed = value.get("null") if isinstance(value, dict) else None
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed) or speed < 0:
        raise TraceError(path, None, f"{where}.null", "needs the job's throughput alone, a number >= 0 (steps/s)")
    return float(speed)


def generate_gavel(
    path: Path | str,
    *,
    jobs_per_hour: float,
    num_jobs: int = 6000,
    seed: int = 0,
    multi_gpu: bool = False,
    skip_bad: bool = False,
) -> Workload:
    """``num_jobs`` jobs from Gavel's generator; ``path`` is the throughput matrix.

    ``skip_bad`` is accepted for a common loader signature; the matrix is read whole, and a
    malformed matrix is always an error (a generator cannot skip part of its model).
    """
    if not (math.isfinite(jobs_per_hour) and jobs_per_hour > 0):
        raise TraceError(path, None, None, f"jobs_per_hour must be a positive number, not {jobs_per_hour!r}")
    if num_jobs < 0:
        raise TraceError(path, None, None, f"num_jobs must be >= 0, not {num_jobs}")
    matrix = load_throughputs(path)
    reference = trace_catalog().canonical(REFERENCE)
    templates = matrix.job_types(1, reference)
    if not templates:
        raise TraceError(matrix.source, None, REFERENCE, "no job types with scale factor 1")
    arrival_rng, type_rng, duration_rng, scale_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    arrivals = np.cumsum(arrival_rng.exponential(3600.0 / jobs_per_hour, size=num_jobs))
    long = duration_rng.random(num_jobs) >= 0.8
    exponents = np.where(long, duration_rng.uniform(3, 4, num_jobs), duration_rng.uniform(1.5, 3, num_jobs))
    durations = 60.0 * 10.0**exponents
    if multi_gpu:
        scales = scale_rng.choice(SCALE_FACTORS, size=num_jobs, p=SCALE_PROBABILITIES)
    else:
        scales = np.ones(num_jobs, dtype=np.int64)
    jobs = []
    for n in range(num_jobs):
        scale = int(scales[n])
        while True:
            kind = templates[int(type_rng.integers(len(templates)))]
            if (kind, scale) in matrix.isolated[reference]:
                break
        speeds = matrix.of(kind, scale)
        duration = float(durations[n])
        jobs.append(
            TraceJob(
                id=f"gavel-{n}",
                submit_s=float(arrivals[n]),
                duration_s=duration,
                gpus=scale,
                model=kind,
                steps=duration * speeds[reference],
                throughputs=speeds,
                attrs=(("scale_factor", str(scale)),),
            )
        )
    return Workload(
        name=f"gavel:{jobs_per_hour:g}jph:seed{seed}",
        jobs=tuple(jobs),
        reference_accelerator=reference,
        source=matrix.source,
    )
