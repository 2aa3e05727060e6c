"""The HTML report: one self-contained file with the metrics side by side and embedded plots,
every text from data escaped; and the per-job CSV and summary JSON for scripts."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suanli.domain.centers import Pool
from suanli.simulation import plots, report
from suanli.simulation.engine import JobRecord, Simulation, SimulationResult
from suanli.simulation.fleet import Fleet, FleetCenter
from suanli.simulation.formatting import format_value, metrics_of
from suanli.simulation.metrics import summarize
from suanli.simulation.outputs import write_outputs
from suanli.simulation.plots import cdf_points, resample_steps
from suanli.simulation.report import Run, write_report
from suanli.simulation.workload import TraceJob, Workload

EVIL = "<script>alert('x')</script>"


def run(label: str, gpus_per_node: int = 4, groups: tuple[str, ...] = ("lab-a", EVIL)) -> Run:
    pool = Pool(
        name="gpu",
        accelerator="A100",
        accelerators_per_node=gpus_per_node,
        cpus_per_node=64,
        memory_gb_per_node=256,
        nodes=2,
        price_per_accelerator_hour=10,
    )
    fleet = Fleet(name="f-" + label, centers=(FleetCenter(name="c", pools=(pool,)),))
    jobs = tuple(
        TraceJob(id=f"j{i}", submit_s=i * 300.0, duration_s=1800.0 + 60 * i, gpus=1 + i % 4, group=groups[i % 2])
        for i in range(40)
    )
    result = Simulation(Workload("w", jobs, None), fleet, "fifo").run()
    return Run(label, result, summarize(result))


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_the_report_shows_each_run_its_metrics_and_four_embedded_plots(tmp_path: Path) -> None:
    runs = [run("small & tight", gpus_per_node=2), run("roomy", gpus_per_node=8)]
    path = write_report(tmp_path / "deep" / "r.html", runs, headline="Adding <b>64</b> GPUs helps")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "small &amp; tight" in page and "roomy" in page
    for r in runs:
        for metric in metrics_of(r.summary):
            assert format_value(getattr(r.summary, metric.key), metric.unit) in page, metric.key
    assert runs[0].summary.queue_p95_h > runs[1].summary.queue_p95_h  # the plots have a difference to show
    pngs = images(page)
    assert len(pngs) == 4 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert "Adding &lt;b&gt;64&lt;/b&gt; GPUs helps" in page
    # Self-contained: nothing is fetched from anywhere.
    assert "http://" not in page and "https://" not in page and "<script" not in page.lower()


def test_a_run_that_fills_the_fleet_shows_allocation_against_demand(tmp_path: Path) -> None:
    # FGD's measure: jobs arrive and never leave until they ask for 1.5x the fleet. Nothing ends,
    # so there is no JCT or utilization over time to draw, only how much of the fleet was taken.
    pool = Pool(
        name="gpu",
        accelerator="A100",
        accelerators_per_node=4,
        cpus_per_node=64,
        memory_gb_per_node=256,
        nodes=2,
        price_per_accelerator_hour=1,
    )
    fleet = Fleet(name="f", centers=(FleetCenter(name="c", pools=(pool,)),))
    jobs = tuple(TraceJob(id=f"j{i}", submit_s=float(i), duration_s=float("inf"), gpus=1 + i % 3) for i in range(6))
    result = Simulation(Workload("fill", jobs, None), fleet, "fifo").run()
    page = write_report(tmp_path / "r.html", [Run("fill", result, summarize(result))]).read_text()
    assert "GPUs allocated as arrivals grow" in page and "utilization over time" not in page
    assert len(images(page)) == 1


def test_text_from_data_is_escaped(tmp_path: Path) -> None:
    r = run(EVIL)
    page = write_report(tmp_path / "r.html", [r], title=f"title {EVIL}").read_text()
    assert EVIL not in page and "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert len(images(page)) == 4


def test_a_dollar_or_underscore_in_a_name_is_drawn_as_text(tmp_path: Path) -> None:
    # matplotlib would read "$...$" as math and hide a legend label starting with "_".
    r = run("_cost $5 $x^$", groups=("$a_b$", "_hidden"))
    assert len(images(write_report(tmp_path / "r.html", [r]).read_text())) == 4


def test_cdf_and_utilization_are_cut_to_a_few_thousand_points_without_losing_the_mean() -> None:
    values = np.sort(np.random.default_rng(0).exponential(size=100_000))
    x, y = cdf_points(values, 2000)
    assert len(x) <= 2000 and x[-1] == values[-1] and y[-1] == 1.0 and np.all(np.diff(y) > 0)
    times = np.sort(np.random.default_rng(1).uniform(0, 1000, 200_000))
    times[0] = 0.0
    busy = np.random.default_rng(2).uniform(0, 1, times.size)
    edges, means = resample_steps(times, busy, 0.0, 1000.0, 2000)
    assert len(means) == 2000
    exact = float(np.sum(busy * np.diff(np.append(times, 1000.0)))) / 1000
    assert float(np.mean(means)) == pytest.approx(exact, rel=1e-9)
    assert means.max() <= busy.max() and means.min() >= busy.min()


def test_a_philly_sized_report_draws_no_more_points_than_a_small_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 80k jobs and a busy series of 160k steps, built directly: the report must not scale with
    # the trace, so every line it draws is cut to a few thousand points. (How long drawing takes
    # is for benchmarks/, not a timed assert here: a busy machine would fail it.)
    rng = np.random.default_rng(3)
    submit = np.sort(rng.uniform(0, 9e6, 80_000))
    wait = rng.exponential(600, submit.size) * (rng.uniform(size=submit.size) < 0.2)
    run_s = rng.lognormal(7, 2, submit.size)
    records = [
        JobRecord(
            TraceJob(str(i), float(s), float(d), 1 + i % 8, group=f"vc{i % 14}"),
            float(s),
            float(s + w),
            float(s + w + d),
        )
        for i, (s, w, d) in enumerate(zip(submit, wait, run_s, strict=True))
    ]
    moments = np.sort(rng.uniform(0, 9.5e6, 160_000))
    busy = [(float(t), int(b)) for t, b in zip(moments, rng.integers(0, 2000, moments.size), strict=True)]
    result = SimulationResult("big", "f", "fifo", records, busy, 2000, 0, 0.0, 0.0)
    r = Run("big", result, summarize(result))
    drawn: list[int] = []
    draw = report.png_base64

    def counting(figure: Any) -> str:
        drawn.extend(len(line.get_xdata()) for axes in figure.axes for line in axes.get_lines())
        return draw(figure)

    monkeypatch.setattr(report, "png_base64", counting)
    write_report(tmp_path / "r.html", [r, Run("again", result, r.summary)])
    assert len(drawn) >= 6  # two runs' JCT, queueing and utilization lines
    assert max(drawn) <= plots.MAX_POINTS + 2


def test_outputs_for_one_run_in_the_folder_and_for_several_in_subfolders(tmp_path: Path) -> None:
    one = run("only")
    written = write_outputs(tmp_path / "one", [one])
    assert written == [tmp_path / "one" / "summary.json", tmp_path / "one" / "jobs.csv"]
    summary = json.loads(written[0].read_text())
    assert summary["jobs"] == 40 and summary["fleet"] == "f-only"
    with written[1].open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40 and rows[1]["group"] == EVIL and rows[0]["center"] == "c"

    written = write_outputs(tmp_path / "two", [one, ("what-if (more)", one.result, one.summary)])
    assert (tmp_path / "two" / "only" / "jobs.csv") in written
    assert (tmp_path / "two" / "what-if-more" / "summary.json") in written
