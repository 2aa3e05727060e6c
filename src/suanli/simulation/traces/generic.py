"""A user's own trace: any CSV, with a mapping from its columns to the job's fields.

Example: ``load_generic(path, submit="submitted", duration="runtime", duration_unit="min",
gpus="gpu", user="owner", group="queue", time_format="%Y/%m/%d %H:%M")``.

- ``submit`` names the submit-time column; times are numbers in ``time_unit`` (``s``, ``ms``,
  ``us``, ``min``, ``h``) unless ``time_format`` is given (a ``strptime`` format, or ``"iso"``
  for ISO 8601), in which case they are dates read as UTC. ``submit_s`` counts from the earliest
  submission; ``Workload.epoch_s`` keeps it for dates.
- The run time is ``duration`` (a number in ``duration_unit``), or ``end`` − ``start`` (two time
  columns read like ``submit``). A row whose end is before its start is an error.
- ``status`` with ``keep_status`` keeps only rows with those statuses (e.g. completed ones).
- ``gpus`` defaults to 0 (a CPU job) when not mapped; ``gpu_milli`` is the per-GPU share.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from suanli.simulation.traces._table import BadField, collect, integer, number, open_table
from suanli.simulation.traces.errors import TraceError
from suanli.simulation.workload import TraceJob, Workload, sorted_jobs

UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0, "h": 3600.0}
_EPOCH = datetime(1970, 1, 1)


def load_generic(
    path: Path | str,
    *,
    submit: str,
    duration: str | None = None,
    start: str | None = None,
    end: str | None = None,
    gpus: str | None = None,
    gpu_milli: str | None = None,
    cpus: str | None = None,
    nodes: str | None = None,
    user: str | None = None,
    group: str | None = None,
    id: str | None = None,
    model: str | None = None,
    status: str | None = None,
    keep_status: Collection[str] | None = None,
    time_unit: str = "s",
    time_format: str | None = None,
    duration_unit: str = "s",
    reference_accelerator: str | None = None,
    name: str | None = None,
    skip_bad: bool = False,
) -> Workload:
    path = Path(path)
    for option, unit in (("time_unit", time_unit), ("duration_unit", duration_unit)):
        if unit not in UNITS:
            raise TraceError(path, None, None, f"{option}={unit!r} is not one of {', '.join(UNITS)}")
    if duration is None and (start is None or end is None):
        raise TraceError(path, None, None, "map the run time: give duration=<column>, or start= and end=")
    if keep_status is not None and status is None:
        raise TraceError(path, None, None, "keep_status needs status=<column>")
    mapped = {
        "submit": submit, "duration": duration, "start": start, "end": end, "gpus": gpus,
        "gpu_milli": gpu_milli, "cpus": cpus, "nodes": nodes, "user": user, "group": group,
        "id": id, "model": model, "status": status,
    }  # fmt: skip
    columns = [c for c in mapped.values() if c is not None]
    table = open_table(path, list(dict.fromkeys(columns)), "trace (check the column mapping)")
    ix = {key: table.index[c] for key, c in mapped.items() if c is not None}
    read_time = _time_reader(time_unit, time_format)
    duration_factor = UNITS[duration_unit]
    wanted = frozenset(keep_status) if keep_status is not None else None

    def text(row: list[str], key: str) -> str:
        return row[ix[key]].strip() if key in ix else ""

    def parse(line: int, row: list[str]) -> tuple[float, TraceJob] | None:
        job_status = text(row, "status") or None
        if wanted is not None and job_status not in wanted:
            return None
        submitted = read_time(row[ix["submit"]], mapped["submit"] or "")
        if duration is not None:
            run = number(row[ix["duration"]], duration) * duration_factor
        else:
            began = read_time(row[ix["start"]], start or "")
            ended = read_time(row[ix["end"]], end or "")
            if ended < began:
                raise BadField(end, f"{row[ix['end']].strip()!r} is before the start {row[ix['start']].strip()!r}")
            run = ended - began
        n_gpus = integer(row[ix["gpus"]], gpus or "") if "gpus" in ix else 0
        milli = integer(row[ix["gpu_milli"]], gpu_milli or "") if "gpu_milli" in ix else (1000 if n_gpus else 0)
        if milli > 1000:
            raise BadField(gpu_milli, f"{milli} is more than one GPU (1000 = a whole GPU)")
        return submitted, TraceJob(
            id=text(row, "id") or f"row-{line - 1}",
            submit_s=submitted,
            duration_s=run,
            gpus=n_gpus,
            gpu_milli=milli,
            cpus=number(row[ix["cpus"]], cpus or "") if "cpus" in ix else 0.0,
            nodes=integer(row[ix["nodes"]], nodes or "") if "nodes" in ix else 0,
            user=text(row, "user"),
            group=text(row, "group"),
            model=text(row, "model") or None,
            status=job_status,
        )

    rows, skips = collect(table, parse, skip_bad)
    origin = min((s for s, _ in rows), default=0.0)
    jobs = [_shift(job, origin) for _, job in rows]
    return Workload(
        name=name or path.stem,
        jobs=sorted_jobs(jobs),
        reference_accelerator=reference_accelerator,
        source=path,
        skipped=skips.count,
        skip_reasons=tuple(skips.reasons),
        epoch_s=origin if rows and time_format is not None else None,
    )


def _shift(job: TraceJob, origin: float) -> TraceJob:
    return replace(job, submit_s=job.submit_s - origin) if origin else job


def _time_reader(unit: str, fmt: str | None) -> Callable[[str, str], float]:
    """Seconds (absolute for dates, as given for numbers) from a time field."""
    if fmt is None:
        factor = UNITS[unit]

        def numeric(value: str, column: str) -> float:
            return number(value, column, minimum=None) * factor

        return numeric

    def dated(value: str, column: str) -> float:
        value = value.strip()
        try:
            moment = datetime.fromisoformat(value) if fmt == "iso" else datetime.strptime(value, fmt)
        except ValueError:
            expected = "an ISO 8601 time like 2024-03-01 08:30:00" if fmt == "iso" else f"a time in format {fmt!r}"
            raise BadField(column, f"{value!r} is not {expected}") from None
        if moment.tzinfo is not None:
            return moment.timestamp()
        return (moment - _EPOCH).total_seconds()

    return dated
