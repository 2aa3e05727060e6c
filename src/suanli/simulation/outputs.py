"""Files for scripts: each run's summary.json and jobs.csv (one row per job)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from pathlib import Path

from suanli.simulation.formatting import finite
from suanli.simulation.report import RunLike, as_runs

JOB_COLUMNS = ("id", "group", "gpus", "submit_s", "start_s", "end_s", "center", "pool", "accelerator")


def write_outputs(folder: Path | str, runs: Iterable[RunLike]) -> list[Path]:
    """``summary.json`` and ``jobs.csv`` (one row per job) for each run; returns the files written.

    One run writes them in ``folder``; several write each run's in a subfolder named after its
    label (``folder/base/summary.json``, ``folder/what-if/jobs.csv``).
    """
    chosen = as_runs(runs)
    folder = Path(folder)
    written: list[Path] = []
    for run in chosen:
        where = folder if len(chosen) == 1 else folder / slug(run.label)
        where.mkdir(parents=True, exist_ok=True)
        summary = where / "summary.json"
        summary.write_text(json.dumps(finite(run.summary.as_dict()), indent=2) + "\n")
        jobs = where / "jobs.csv"
        with jobs.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(JOB_COLUMNS)
            for r in run.result.records:
                writer.writerow(
                    [r.job.id, r.job.group, r.job.gpus, r.submit_s, r.start_s, r.end_s, r.center, r.pool, r.accelerator]
                )
        written += [summary, jobs]
    return written


def slug(label: str) -> str:
    """A label as a folder name: ``what-if (more-910b)`` -> ``what-if-more-910b``."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", label).strip("-.") or "run"
