"""The sweep's comparison report: the combined table, and a plot per metric that has something
to compare, each profile against the load with the seeds' range."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from suanli.simulation.sweep.report import write_sweep_report

EVIL = "<b>bold</b>"


def combined(profile: str, load: float, jct: tuple[float, float, float], **more: float) -> dict[str, Any]:
    row: dict[str, Any] = {"profile": profile, "load": load, "load_kind": "jobs_per_hour", "fleet_file": "default"}
    row |= {"fleet": "gavel", "seeds": 3, "jct_mean_h_mean": jct[0], "jct_mean_h_min": jct[1], "jct_mean_h_max": jct[2]}
    for metric, value in more.items():
        row |= {f"{metric}_mean": value, f"{metric}_min": value, f"{metric}_max": value}
    return row


def pictures(page: str) -> list[str]:
    found = re.findall(r'alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for _, data in found)
    return [alt for alt, _ in found]


def test_each_metric_with_something_to_compare_gets_a_plot_and_the_table_has_every_row(tmp_path: Path) -> None:
    rows = [
        combined("fifo", 0.4, (17.0, 16.0, 18.5), utilization=0.4, cost=0.0),
        combined("fifo", 4.0, (25.0, 23.0, 27.0), utilization=0.9, cost=0.0),
        combined(EVIL, 0.4, (15.0, 15.0, 15.0), utilization=0.4, cost=0.0),
        combined(EVIL, 4.0, (16.0, 15.5, 16.2), utilization=0.9, cost=0.0),
    ]
    page = write_sweep_report(tmp_path / "deep" / "s.html", "mine", "jobs_per_hour", rows).read_text()
    # Cost is 0 everywhere (no prices): nothing to compare, no plot.
    assert pictures(page) == ["mean job completion time (h)", "accelerator utilization"]
    assert "25 (23-27)" in page and "90.0%" in page and "arrival rate (jobs/h)" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and EVIL not in page
    assert "http://" not in page and "https://" not in page and "<script" not in page.lower()


def test_one_load_compares_the_profiles_side_by_side(tmp_path: Path) -> None:
    rows = [
        combined(name, 1.3, (float("nan"),) * 3, allocated_at_full_demand=share)
        for name, share in (("fgd", 0.95), ("best-fit", 0.94))
    ]
    for row in rows:
        row["load_kind"] = "fill_to"
    page = write_sweep_report(tmp_path / "s.html", "packing", "fill_to", rows).read_text()
    assert pictures(page) == ["GPUs allocated when arrivals reach the fleet"]
    assert "95.0%" in page and "fill (x fleet)" in page
