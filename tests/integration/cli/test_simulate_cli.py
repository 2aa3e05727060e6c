"""`suanli simulate` on a user's own CSV and fleet: a summary for people and scripts, files on
request, and clear errors (file, line, column) for bad input, never a traceback."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.adapters.cli.main import app

FLEET = """
name: two-sites
centers:
  - name: qd
    region: qingdao
    pools:
      - {name: a100, accelerator: A100, nodes: 2, accelerators_per_node: 4, cpus_per_node: 64,
         memory_gb_per_node: 512, price_per_accelerator_hour: 10, carbon_intensity: 500}
"""


def write_trace(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("submit_time,runtime,num_gpu\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return path


def simulate(tmp_path: Path, trace: Path, *extra: str) -> tuple[int, str, str]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    args = ["simulate", str(trace), "--kind", "generic", "--fleet", str(fleet)]
    args += ["--map", "submit=submit_time", "--map", "duration=runtime", "--map", "gpus=num_gpu", *extra]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


def test_a_users_trace_is_replayed_with_a_summary_and_per_job_files(tmp_path: Path) -> None:
    rows = [(str(i * 60), str(600 + 30 * i), str(1 + i % 4)) for i in range(40)]
    trace = write_trace(tmp_path / "mine.csv", rows)
    code, stdout, stderr = simulate(tmp_path, trace, "--out", str(tmp_path / "out"))
    assert code == 0, stderr
    assert "jct_mean_h" in stdout and "two-sites" in stdout

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["jobs"], summary["finished"], summary["never_ran"]) == (40, 40, 0)
    price = 10 * sum(int(g) * int(d) for _, d, g in rows) / 3600  # every job ran for its own run time
    assert summary["cost"] == pytest.approx(price)
    with (tmp_path / "out" / "jobs.csv").open() as handle:
        jobs = list(csv.DictReader(handle))
    assert len(jobs) == 40 and all(j["center"] == "qd" for j in jobs)
    assert all(float(j["end_s"]) - float(j["start_s"]) == float(r[1]) for j, r in zip(jobs, rows, strict=True))


def _args(tmp_path: Path, trace: Path) -> list[str]:
    return [
        "simulate",
        str(trace),
        "--kind",
        "generic",
        "--fleet",
        str(tmp_path / "fleet.yaml"),
        "--map",
        "submit=submit_time",
        "--map",
        "duration=runtime",
        "--map",
        "gpus=num_gpu",
    ]


def test_json_output_for_scripts(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "mine.csv", [("0", "100", "2"), ("10", "100", "8")])
    simulate(tmp_path, trace)  # writes the fleet file
    result = CliRunner().invoke(app, ["-o", "json", *_args(tmp_path, trace)])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["finished"] == 2 and summary["fleet"] == "two-sites"


def test_a_malformed_row_names_file_line_and_column_or_is_skipped_and_counted(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "bad.csv", [("0", "100", "1"), ("60", "ten", "1"), ("120", "100", "1")])
    code, _, stderr = simulate(tmp_path, trace)
    assert code == 2
    assert "bad.csv" in stderr and "line 3" in stderr and "runtime" in stderr
    assert "Traceback" not in stderr

    code, stdout, stderr = simulate(tmp_path, trace, "--skip-bad")
    assert code == 0, stderr
    assert "skipped 1 malformed row" in stderr
    assert re.search(r"│ jobs\s+│ 2\s", stdout), stdout


def test_a_trace_without_a_fleet_and_a_bad_mapping_are_refused_clearly(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "mine.csv", [("0", "100", "1")])
    no_fleet = [a for a in _args(tmp_path, trace) if a not in ("--fleet", str(tmp_path / "fleet.yaml"))]
    result = CliRunner().invoke(app, no_fleet)
    assert result.exit_code == 2 and "--fleet" in result.stderr
    code, _, stderr = simulate(tmp_path, trace, "--map", "nonsense")
    assert code == 2 and "FIELD=COLUMN" in stderr
    missing = CliRunner().invoke(app, ["simulate", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr and "Traceback" not in missing.stderr


# -- --report and --what-if, on the example trace and fleets a newcomer is pointed to ------------

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = [
    "simulate",
    str(REPO / "examples" / "traces" / "small.csv"),
    "--kind",
    "generic",
    *("--map", "submit=submit_time", "--map", "duration=runtime", "--map", "gpus=num_gpu"),
    *("--map", "group=tenant", "--map", "id=job_id"),
    *("--fleet", str(REPO / "examples" / "fleets" / "base.yaml")),
]


def test_a_report_is_written_next_to_the_summary_and_its_path_printed(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "mine.csv", [(str(i * 60), "600", "2") for i in range(20)])
    report = tmp_path / "reports" / "r.html"
    code, stdout, stderr = simulate(tmp_path, trace, "--report", str(report), "--out", str(tmp_path / "out"))
    assert code == 0, stderr
    assert str(report) in stderr.replace("\n", "") and "jct_mean_h" in stdout
    page = report.read_text()
    assert "two-sites" in page and page.count("data:image/png;base64,") == 5
    assert "GPUs allocated as arrivals grow" in page  # arrivals ask for less than 5x the fleet
    assert (tmp_path / "out" / "jobs.csv").exists()


def test_the_example_what_if_runs_end_to_end_with_a_report_and_json(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    args = [*EXAMPLE, "--what-if", str(REPO / "examples" / "fleets" / "more-910b.yaml"), "--report", str(report)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "Adding 64 Ascend910B at guiyang-910b cuts p95 queueing from" in result.stdout
    assert "queueing p95" in result.stdout and "base" in result.stdout and "what-if" in result.stdout
    page = report.read_text()
    assert "base (regional)" in page and "what-if (regional-more-910b)" in page
    assert "Adding 64 Ascend910B" in page and page.count("data:image/png;base64,") == 4

    result = CliRunner().invoke(app, ["-o", "json", *args[:-2], "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"base", "what_if", "changes", "verdict", "capacity"}
    assert data["base"]["fleet"] == "regional" and data["what_if"]["fleet"] == "regional-more-910b"
    p95 = data["changes"]["queue_p95_h"]
    assert p95["base"] > 1 and p95["what_if"] < p95["base"] / 2  # the example really cuts queueing
    assert data["capacity"] == [
        {"center": "guiyang-910b", "accelerator": "Ascend910B", "before": 64, "after": 128, "change": 64}
    ]
    assert json.loads((tmp_path / "out" / "comparison.json").read_text())["verdict"] == data["verdict"]
    assert (tmp_path / "out" / "what-if-regional-more-910b" / "jobs.csv").exists()


def test_a_bad_what_if_file_is_a_clean_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "more.yaml"
    bad.write_text("name: x\ncenters:\n  - name: a\n    pools: [{name: p, accelerator: Nope9000}]\n")
    for path in (bad, tmp_path / "absent.yaml"):
        result = CliRunner().invoke(app, [*EXAMPLE, "--what-if", str(path)])
        assert result.exit_code == 2, result.stderr
        assert str(path) in result.stderr.replace("\n", "") and "Traceback" not in result.stderr
        assert result.stdout == ""
    # The file's message names the field itself: said once, not again in front of it.
    said = CliRunner().invoke(app, [*EXAMPLE, "--what-if", str(bad)]).stderr.replace("\n", "")
    assert said.startswith(f"error: {bad}: centers[0].pools[0]"), said


def test_what_if_without_fleet_needs_a_trace_that_brings_one(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "mine.csv", [("0", "100", "1")])
    more = REPO / "examples" / "fleets" / "more-910b.yaml"
    args = [a for a in _args(tmp_path, trace) if a not in ("--fleet", str(tmp_path / "fleet.yaml"))]
    result = CliRunner().invoke(app, [*args, "--what-if", str(more)])
    assert result.exit_code == 2 and "--fleet" in result.stderr and "Traceback" not in result.stderr
