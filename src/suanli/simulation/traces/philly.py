"""Microsoft Philly (2017), in the form petuum/adaptdl's artifact ships it (``philly.csv``).

Columns ``timestamp,duration,num_gpus,gpu_time,cluster``. Choices:

- This file already gives each job's run time (``duration``, seconds) and no status column, so
  every row is kept: the raw Philly release's start/end times and Pass/Killed/Failed status were
  reduced to ``duration`` upstream. Queueing time is not in the file and is not an input.
- ``submit_s`` is the ``timestamp`` (``YYYY-MM-DD HH:MM:SS``, read as UTC) minus the earliest one;
  ``Workload.epoch_s`` keeps that earliest time. Rows are not sorted in the file; the workload is.
- ``group`` is the VC (``cluster``); the trace has no user. ``gpu_time`` is derived and not read.
- The trace names no GPU model; the reference accelerator is the P100 (an assumption, noted in
  the fleet builder too), so a what-if on faster accelerators scales run times by the catalog.
- ``id`` is ``philly-<row>`` (1-based data row), stable across loads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from suanli.simulation.traces._table import BadField, collect, integer, number, open_table
from suanli.simulation.workload import TraceJob, Workload, sorted_jobs

COLUMNS = ("timestamp", "duration", "num_gpus", "cluster")
REFERENCE = "P100"
_EPOCH = datetime(1970, 1, 1)


def load_philly(path: Path | str, *, skip_bad: bool = False) -> Workload:
    table = open_table(path, COLUMNS, "Philly trace (philly.csv)")
    i_time, i_duration, i_gpus, i_vc = (table.index[c] for c in COLUMNS)

    def parse(line: int, row: list[str]) -> tuple[float, int, float, int, str]:
        text = row[i_time]
        try:
            stamp = (datetime.fromisoformat(text) - _EPOCH).total_seconds()
        except (ValueError, TypeError):
            raise BadField("timestamp", f"{text!r} is not a time like 2017-10-09 07:01:55") from None
        duration = number(row[i_duration], "duration")
        gpus = integer(row[i_gpus], "num_gpus")
        vc = row[i_vc].strip()
        if not vc:
            raise BadField("cluster", "empty; every job names its virtual cluster")
        return stamp, line, duration, gpus, vc

    rows, skips = collect(table, parse, skip_bad)
    start = min((r[0] for r in rows), default=0.0)
    jobs = [
        TraceJob(
            id=f"philly-{line - 1}",
            submit_s=stamp - start,
            duration_s=duration,
            gpus=gpus,
            gpu_milli=1000 if gpus else 0,
            group=vc,
        )
        for stamp, line, duration, gpus, vc in rows
    ]
    return Workload(
        name="philly",
        jobs=sorted_jobs(jobs),
        reference_accelerator=REFERENCE,
        source=table.path,
        skipped=skips.count,
        skip_reasons=tuple(skips.reasons),
        epoch_s=start if rows else None,
    )


def epoch_to_utc(epoch_s: float) -> datetime:
    """The UTC time that a Philly ``epoch_s`` stands for."""
    return datetime.fromtimestamp(epoch_s, UTC)
