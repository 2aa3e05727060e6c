"""The workload a simulation replays: jobs from a trace, in one clean shape for every source.

Times are seconds: ``submit_s`` counts from the trace's start (the earliest submission is 0 unless
a loader says otherwise), ``duration_s`` is the run time on the trace's reference accelerator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.errors import InvalidSpec


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One job (or pod) of a trace.

    ``gpus`` is the number of GPUs; ``gpu_milli`` the share of EACH of them (1000 = a whole GPU;
    below 1000 only for a one-GPU pod that shares its GPU, as in openb); 0 for a CPU job.
    ``cpus`` and ``memory_gb`` are the whole job's (0: not given).
    ``nodes`` is the node count the trace prescribes, 0 when it does not say (the scheduler spreads).
    ``model`` names the job type when the trace has per-accelerator throughput for it (Gavel) or
    an application (Pollux). ``throughputs`` maps canonical accelerator names to the job's measured
    speed in steps per second when it runs alone; with ``steps`` it gives the run time per
    accelerator. ``attrs`` keeps the trace's other fields as text.
    """

    id: str
    submit_s: float
    duration_s: float
    gpus: int
    gpu_milli: int = 1000
    cpus: float = 0.0
    memory_gb: float = 0.0
    nodes: int = 0
    user: str = ""
    group: str = ""
    model: str | None = None
    status: str | None = None
    steps: float | None = None
    throughputs: Mapping[str, float] | None = None
    attrs: tuple[tuple[str, str], ...] = ()

    @property
    def gpu_demand(self) -> float:
        """GPUs asked for, counting a shared GPU by its share (0.46 for gpu_milli 460)."""
        return self.gpus * self.gpu_milli / 1000

    def attr(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    def run_time_on(self, accelerator: str, reference: str | None, catalog: AcceleratorCatalog) -> float:
        """Seconds this job runs alone on ``accelerator`` (a canonical catalog name).

        From the measured throughput when the trace gives it (``inf`` where the measurement is 0:
        the job cannot run there), else ``duration_s`` scaled by the catalog's relative factors of
        the trace's reference accelerator and ``accelerator`` (unchanged when ``reference`` is None).
        """
        if self.steps is not None and self.throughputs is not None and accelerator in self.throughputs:
            speed = self.throughputs[accelerator]
            return self.steps / speed if speed > 0 else math.inf
        if reference is None:
            return self.duration_s
        return self.duration_s * catalog.throughput(reference) / catalog.throughput(accelerator)


@dataclass(frozen=True, slots=True)
class Workload:
    """The jobs of one trace, sorted by submit time (ties keep the file's order).

    ``reference_accelerator`` is the catalog model the durations were measured on, or ``None``
    when run time does not depend on the accelerator (openb: observed lifetimes, no speed model).
    ``epoch_s`` is the absolute time (Unix seconds, UTC) that ``submit_s == 0`` stands for, when
    the trace gives absolute times. ``skip_reasons`` keeps the first few reasons rows were skipped.
    """

    name: str
    jobs: tuple[TraceJob, ...]
    reference_accelerator: str | None
    source: Path | None = None
    skipped: int = 0
    skip_reasons: tuple[str, ...] = ()
    epoch_s: float | None = None

    def run_time(self, job: TraceJob, accelerator: str, catalog: AcceleratorCatalog) -> float:
        """Seconds ``job`` runs alone on ``accelerator``; see :meth:`TraceJob.run_time_on`."""
        return job.run_time_on(accelerator, self.reference_accelerator, catalog)

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def span_s(self) -> float:
        """Seconds from the first submission to the last."""
        return self.jobs[-1].submit_s - self.jobs[0].submit_s if self.jobs else 0.0

    def groups(self) -> tuple[str, ...]:
        """The distinct groups (VC, queue, tenant) in order of first appearance."""
        return tuple(dict.fromkeys(job.group for job in self.jobs))


def sorted_jobs(jobs: list[TraceJob]) -> tuple[TraceJob, ...]:
    """Jobs by submit time; Python's sort is stable, so ties keep the trace's order."""
    jobs.sort(key=_submit)
    return tuple(jobs)


def _submit(job: TraceJob) -> float:
    return job.submit_s


def filling_arrivals(workload: Workload, capacity_gpus: float, until: float = 1.3, seed: int = 0) -> Workload:
    """The workload as FGD (USENIX ATC'23) measures packing: jobs drawn at random (with
    replacement) from ``workload`` arrive one a second and never leave, until together they ask
    for ``until`` times the fleet's ``capacity_gpus``. The share of GPUs allocated as demand grows
    (``metrics.allocation_curve``) then shows how much capacity fragmentation strands."""
    if until <= 0:
        raise InvalidSpec(f"the fill level must be positive, got {until}", field="--fill-to")
    pool = workload.jobs  # CPU-only jobs are drawn too: they take CPUs a GPU job may need
    if capacity_gpus <= 0 or not any(job.gpu_demand > 0 for job in pool):
        raise InvalidSpec(
            "filling to a share of the fleet needs a trace with GPU jobs and a fleet with GPUs", field="--fill-to"
        )
    rng = random.Random(seed)
    jobs: list[TraceJob] = []
    asked = 0.0
    while asked < until * capacity_gpus:
        job = pool[rng.randrange(len(pool))]
        jobs.append(replace(job, id=f"{job.id}#{len(jobs)}", submit_s=float(len(jobs)), duration_s=math.inf))
        asked += job.gpu_demand
    return Workload(
        name=f"{workload.name} (filling to {until:g}x)",
        jobs=tuple(jobs),
        reference_accelerator=workload.reference_accelerator,
        source=workload.source,
        skipped=workload.skipped,
        skip_reasons=workload.skip_reasons,
    )
