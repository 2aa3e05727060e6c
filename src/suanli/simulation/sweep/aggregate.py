"""Combining a sweep's rows: mean, min and max of each metric over seeds per profile x load x fleet,
and the rows and the combination as CSV and JSON files."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from suanli.simulation.sweep.cells import CELL_FIELDS, Row

TIMING_FIELDS = ("decision_s", "wall_s")  # measured, not simulated: they differ run to run
GROUP_FIELDS = ("profile", "load", "load_kind", "fleet_file")
# Summary fields that are labels, not metrics (the cell's own fields are never aggregated).
LABEL_FIELDS = ("workload", "fleet")


def metric_names(rows: Sequence[Row]) -> list[str]:
    """The numeric summary fields of the rows (not the cell's parameters or labels)."""
    if not rows:
        return []
    skip = {*CELL_FIELDS, *LABEL_FIELDS}
    return [k for k, v in rows[0].items() if k not in skip and isinstance(v, int | float) and not isinstance(v, bool)]


def aggregate(rows: Sequence[Row]) -> list[Row]:
    """Per profile x load x fleet (in the order the rows first give them): ``seeds`` (how many
    rows), and for every metric its mean, min and max over those rows. Rows whose value is not a
    finite number (NaN: nothing finished) are left out of that metric; none left gives NaN."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in GROUP_FIELDS), []).append(row)
    metrics = metric_names(rows)
    combined: list[Row] = []
    for key, members in groups.items():
        out: Row = dict(zip(GROUP_FIELDS, key, strict=True))
        out["fleet"] = members[0].get("fleet", "")
        out["workload"] = members[0].get("workload", "")
        out["seeds"] = len(members)
        for metric in metrics:
            values = [float(r[metric]) for r in members if is_number(r[metric])]
            out[f"{metric}_mean"] = sum(values) / len(values) if values else math.nan
            out[f"{metric}_min"] = min(values) if values else math.nan
            out[f"{metric}_max"] = max(values) if values else math.nan
        combined.append(out)
    return combined


def is_number(value: Any) -> TypeGuard[float]:
    """A finite number (not NaN, infinity or a boolean): a metric that measured something."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def comparable(rows: Iterable[Row]) -> list[Row]:
    """Rows without the wall-clock fields, for comparing two runs of the same cells."""
    return [{k: v for k, v in row.items() if k not in TIMING_FIELDS} for row in rows]


def jsonable(value: Any) -> Any:
    """NaN and infinities as null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write_results(folder: Path, rows: Sequence[Row], combined: Sequence[Row]) -> list[Path]:
    """rows.csv and rows.json (one row per cell) and summary.csv (one per profile x load x fleet)."""
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in (("rows.csv", rows), ("summary.csv", combined)):
        path = folder / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            if table:
                writer = csv.DictWriter(handle, fieldnames=list(table[0]))
                writer.writeheader()
                writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)
        written.append(path)
    path = folder / "rows.json"
    path.write_text(json.dumps(jsonable(list(rows)), indent=2) + "\n", encoding="utf-8")
    written.insert(1, path)
    return written
