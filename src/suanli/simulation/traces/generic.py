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
    """The jobs of the CSV at ``path``, read through the mapping of fields to columns (above)."""
    path = Path(path)
    _check_mapping(path, time_unit, duration_unit, duration, start, end, status, keep_status)
    mapped = {
        "submit": submit, "duration": duration, "start": start, "end": end, "gpus": gpus,
        "gpu_milli": gpu_milli, "cpus": cpus, "nodes": nodes, "user": user, "group": group,
        "id": id, "model": model, "status": status,
    }  # fmt: skip
    columns = {key: c for key, c in mapped.items() if c is not None}
    table = open_table(path, list(dict.fromkeys(columns.values())), "trace (check the column mapping)")
    reader = _RowReader(
        columns,
        {key: table.index[c] for key, c in columns.items()},
        _time_reader(time_unit, time_format),
        UNITS[duration_unit],
        frozenset(keep_status) if keep_status is not None else None,
    )
    rows, skips = collect(table, reader.parse, skip_bad)
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


def _check_mapping(
    path: Path,
    time_unit: str,
    duration_unit: str,
    duration: str | None,
    start: str | None,
    end: str | None,
    status: str | None,
    keep_status: Collection[str] | None,
) -> None:
    """Mistakes in the mapping itself: an unknown unit, no run time, a status filter without its column."""
    for option, unit in (("time_unit", time_unit), ("duration_unit", duration_unit)):
        if unit not in UNITS:
            raise TraceError(path, None, None, f"{option}={unit!r} is not one of {', '.join(UNITS)}")
    if duration is None and (start is None or end is None):
        raise TraceError(path, None, None, "map the run time: give duration=<column>, or start= and end=")
    if keep_status is not None and status is None:
        raise TraceError(path, None, None, "keep_status needs status=<column>")


class _RowReader:
    """One row of the CSV as a job, through the column mapping (field -> column name)."""

    def __init__(
        self,
        columns: dict[str, str],
        ix: dict[str, int],
        read_time: Callable[[str, str], float],
        duration_factor: float,
        wanted: frozenset[str] | None,
    ) -> None:
        self.columns = columns  # the mapped fields' columns
        self.ix = ix  # the mapped fields' positions in a row
        self.read_time = read_time
        self.duration_factor = duration_factor
        self.wanted = wanted  # the statuses kept (None: every row)

    def text(self, row: list[str], key: str) -> str:
        return row[self.ix[key]].strip() if key in self.ix else ""

    def parse(self, line: int, row: list[str]) -> tuple[float, TraceJob] | None:
        """(its absolute submit time, the job), or None for a row whose status is not kept."""
        job_status = self.text(row, "status") or None
        if self.wanted is not None and job_status not in self.wanted:
            return None
        ix, columns = self.ix, self.columns
        submitted = self.read_time(row[ix["submit"]], columns["submit"])
        run = self.run_time(row)
        n_gpus = integer(row[ix["gpus"]], columns["gpus"]) if "gpus" in ix else 0
        milli = integer(row[ix["gpu_milli"]], columns["gpu_milli"]) if "gpu_milli" in ix else (1000 if n_gpus else 0)
        if milli > 1000:
            raise BadField(columns["gpu_milli"], f"{milli} is more than one GPU (1000 = a whole GPU)")
        return submitted, TraceJob(
            id=self.text(row, "id") or f"row-{line - 1}",
            submit_s=submitted,
            duration_s=run,
            gpus=n_gpus,
            gpu_milli=milli,
            cpus=number(row[ix["cpus"]], columns["cpus"]) if "cpus" in ix else 0.0,
            nodes=integer(row[ix["nodes"]], columns["nodes"]) if "nodes" in ix else 0,
            user=self.text(row, "user"),
            group=self.text(row, "group"),
            model=self.text(row, "model") or None,
            status=job_status,
        )

    def run_time(self, row: list[str]) -> float:
        """Seconds: the duration column, or end - start."""
        ix, columns = self.ix, self.columns
        if "duration" in ix:
            return number(row[ix["duration"]], columns["duration"]) * self.duration_factor
        began = self.read_time(row[ix["start"]], columns["start"])
        ended = self.read_time(row[ix["end"]], columns["end"])
        if ended < began:
            raise BadField(
                columns["end"], f"{row[ix['end']].strip()!r} is before the start {row[ix['start']].strip()!r}"
            )
        return ended - began


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
