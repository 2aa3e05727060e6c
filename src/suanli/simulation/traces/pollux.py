"""Pollux (OSDI'21) workloads: ``workload-<n>.csv`` with the profiles in ``traces/<application>/``.

Columns ``name,time,application,num_replicas,batch_size``; ``time`` is seconds from the start.
The workload gives no run time: Pollux adapts GPUs and batch size as jobs run, and its
simulator stops a job at the last epoch of its validation curves. The loader estimates the run
time of the job's own fixed configuration as Pollux's simulator does for its baselines
(``Application.get_configurations`` in petuum/adaptdl ``simulator/applications.py``):

- iterations = the ``iteration`` of the last row (the completion epoch) of
  ``validation-<batch_size>.csv``, interpolated linearly between measured batch sizes;
- replicas packed 4 per node (6 → nodes of 4 and 2); local batch = ceil(batch_size / replicas),
  split into gradient-accumulation steps above the largest measured local batch (8 for yolov3,
  as Pollux caps it); step time from ``placements.csv`` for that placement, interpolated over
  the local batch (clamped to the measured range), else from ``scalability.csv`` (by node and
  replica count); each accumulation step adds ``step_time − sync_time``;
- duration = iterations × step time, on the T4 (the reference accelerator of the profiles).

``gpus`` = ``num_replicas``; ``model`` = ``application``; ``attrs`` keep ``batch_size``.
``profiles`` defaults to ``../traces`` next to the workload's folder.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from suanli.simulation.traces._table import BadField, collect, integer, number, open_table
from suanli.simulation.traces.errors import TraceError
from suanli.simulation.workload import TraceJob, Workload, sorted_jobs

COLUMNS = ("name", "time", "application", "num_replicas", "batch_size")
REFERENCE = "T4"
GPUS_PER_NODE = 4
MAX_LOCAL_BATCH = {"yolov3": 8}  # Pollux's own cap (applications.py)


@dataclass(frozen=True, slots=True)
class _Curve:
    """Step and sync time against local batch size, for one placement shape."""

    batch: tuple[float, ...]
    step: tuple[float, ...]
    sync: tuple[float, ...]

    def at(self, local_batch: float) -> tuple[float, float]:
        x = min(max(local_batch, self.batch[0]), self.batch[-1])
        i = bisect.bisect_left(self.batch, x)
        if self.batch[i] == x or i == 0:
            return self.step[i], self.sync[i]
        w = (x - self.batch[i - 1]) / (self.batch[i] - self.batch[i - 1])
        return (
            self.step[i - 1] + w * (self.step[i] - self.step[i - 1]),
            self.sync[i - 1] + w * (self.sync[i] - self.sync[i - 1]),
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """One application's measured profile."""

    name: str
    iterations: dict[int, float]  # batch size -> iterations to the completion epoch
    placements: dict[str, _Curve]  # placement id ("24") -> curve
    scalability: dict[tuple[int, int], _Curve]  # (nodes, replicas) -> curve
    max_local_batch: float

    def iterations_at(self, batch_size: int) -> float:
        sizes = sorted(self.iterations)
        if not sizes[0] <= batch_size <= sizes[-1]:
            raise BadField(
                "batch_size", f"{batch_size} is outside the measured {sizes[0]}..{sizes[-1]} for {self.name}"
            )
        i = bisect.bisect_left(sizes, batch_size)
        if sizes[i] == batch_size:
            return self.iterations[batch_size]
        lo, hi = sizes[i - 1], sizes[i]
        w = (batch_size - lo) / (hi - lo)
        return self.iterations[lo] + w * (self.iterations[hi] - self.iterations[lo])

    def run_time(self, replicas: int, batch_size: int) -> float:
        shape = [GPUS_PER_NODE] * (replicas // GPUS_PER_NODE) + ([replicas % GPUS_PER_NODE] if replicas % 4 else [])
        placement = "".join(map(str, min(shape[i:] + shape[:i] for i in range(len(shape)))))
        local = math.ceil(batch_size / replicas - 1e-8)
        accumulation = math.ceil(local / self.max_local_batch - 1e-8) - 1
        atomic = math.ceil(local / (accumulation + 1) - 1e-8)
        curve = self.placements.get(placement) or self.scalability.get((len(shape), replicas))
        if curve is None:
            raise BadField("num_replicas", f"no measured step time for {replicas} replicas of {self.name}")
        step, sync = curve.at(atomic)
        step += accumulation * (step - sync)
        return self.iterations_at(batch_size) * step


def load_pollux(path: Path | str, *, skip_bad: bool = False, profiles: Path | str | None = None) -> Workload:
    path = Path(path)
    folder = Path(profiles) if profiles is not None else path.parent.parent / "traces"
    table = open_table(path, COLUMNS, "Pollux workload (workload-<n>.csv)")
    ix = table.index

    def parse(line: int, row: list[str]) -> TraceJob:
        name = row[ix["name"]].strip() or f"pollux-{line - 1}"
        submit = number(row[ix["time"]], "time")
        application = row[ix["application"]].strip()
        if not application:
            raise BadField("application", "empty; name one of the profiled applications")
        replicas = integer(row[ix["num_replicas"]], "num_replicas", minimum=1)
        batch = integer(row[ix["batch_size"]], "batch_size", minimum=1)
        profile = _profile(folder, application)
        return TraceJob(
            id=name,
            submit_s=submit,
            duration_s=profile.run_time(replicas, batch),
            gpus=replicas,
            model=application,
            attrs=(("batch_size", str(batch)),),
        )

    jobs, skips = collect(table, parse, skip_bad)
    return Workload(
        name=f"pollux:{path.stem}",
        jobs=sorted_jobs(jobs),
        reference_accelerator=REFERENCE,
        source=path,
        skipped=skips.count,
        skip_reasons=tuple(skips.reasons),
    )


def _profile(folder: Path, application: str) -> Profile:
    if not (folder / application).is_dir():
        known = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        raise BadField(
            "application",
            f"no profile folder {folder / application}; known: {', '.join(known) or 'none (pass profiles=)'}",
        )
    return _read_profile(folder.resolve(), application)


@cache
def _read_profile(folder: Path, application: str) -> Profile:
    base = folder / application
    iterations: dict[int, float] = {}
    for file in sorted(base.glob("validation-*.csv")):
        size_text = file.stem.removeprefix("validation-")
        if not size_text.isdigit():
            continue
        rows = _numeric(file, ("iteration",))
        if not rows:
            raise TraceError(file, None, None, "no rows; the validation curve is empty")
        iterations[int(size_text)] = rows[-1][0]
    if not iterations:
        raise TraceError(base, None, None, "no validation-<batch size>.csv files in the profile")
    placement_rows = _numeric(base / "placements.csv", ("placement", "local_bsz", "step_time", "sync_time"))
    placements = {str(int(key[0])): curve for key, curve in _curves(placement_rows, 1).items()}
    if not placements:
        raise TraceError(base / "placements.csv", None, None, "no rows; the profile needs measured placements")
    scale_rows = _numeric(
        base / "scalability.csv", ("num_nodes", "num_replicas", "local_bsz", "step_time", "sync_time")
    )
    scalability = {(int(key[0]), int(key[1])): curve for key, curve in _curves(scale_rows, 2).items()}
    measured = max(c.batch[-1] for c in placements.values())
    return Profile(application, iterations, placements, scalability, MAX_LOCAL_BATCH.get(application, measured))


def _curves(rows: list[list[float]], key_width: int) -> dict[tuple[float, ...], _Curve]:
    """Group rows by their first ``key_width`` values into curves over the local batch size.

    Repeated batch sizes are averaged, as Pollux's groupby-mean does.
    """
    points: dict[tuple[float, ...], dict[float, list[tuple[float, float]]]] = {}
    for row in rows:
        batch, step, sync = row[key_width:]
        points.setdefault(tuple(row[:key_width]), {}).setdefault(batch, []).append((step, sync))
    curves = {}
    for key, by_batch in points.items():
        ordered = sorted(by_batch.items())
        curves[key] = _Curve(
            tuple(b for b, _ in ordered),
            tuple(sum(s for s, _ in v) / len(v) for _, v in ordered),
            tuple(sum(s for _, s in v) / len(v) for _, v in ordered),
        )
    return curves


def _numeric(file: Path, columns: Sequence[str]) -> list[list[float]]:
    table = open_table(file, columns, "Pollux profile")
    idx = [table.index[c] for c in columns]

    def parse(line: int, row: list[str]) -> list[float]:
        return [number(row[i], c, minimum=None) for i, c in zip(idx, columns, strict=True)]

    rows, _ = collect(table, parse, skip_bad=False)
    return rows
