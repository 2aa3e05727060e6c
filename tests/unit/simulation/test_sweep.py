"""Sweeps: a spec expands into one cell per profile x load x seed x fleet; cells run in parallel
processes give the same rows as run one by one, in cell order; rows combine into mean/min/max
over seeds; a real trace's load compresses its arrivals; a bad spec names its field."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from suanli.adapters.cli import sweep as sweep_cli
from suanli.adapters.cli.main import FriendlyGroup, main_options
from suanli.simulation import sweep as sw
from suanli.simulation.packaged import named_trace
from suanli.simulation.workload import TraceJob, Workload
from tests.unit.simulation.conftest import need

FLEET = """
name: small
centers:
  - name: qd
    pools:
      - {name: a100, accelerator: A100, nodes: 2, accelerators_per_node: 4, cpus_per_node: 64,
         memory_gb_per_node: 512, price_per_accelerator_hour: 10, carbon_intensity: 500}
"""
GENERIC = {"submit": "submit_time", "duration": "runtime", "gpus": "num_gpu"}


@pytest.fixture(scope="module")
def matrix(traces: Path) -> Path:
    return need(traces / "gavel" / "simulation_throughputs.json")


def small_spec(matrix: Path) -> sw.SweepSpec:
    """2 profiles x 2 loads x 2 seeds of 200 generated jobs on Gavel's 108 GPUs: loads high
    enough that jobs queue, so the profiles and seeds differ."""
    return sw.spec_from_dict(
        {
            "name": "small",
            "trace": {"kind": "gavel", "path": str(matrix)},
            "profiles": ["fifo", "default"],
            "loads": [30.0, 60.0],
            "seeds": [0, 1],
            "max_jobs": 200,
        }
    )


@pytest.fixture(scope="module")
def parallel_rows(matrix: Path) -> list[dict[str, Any]]:
    return sw.run_sweep(sw.expand(small_spec(matrix)), max_workers=2)


def write_generic(folder: Path, rows: list[tuple[float, float, int]]) -> tuple[Path, Path]:
    trace = folder / "mine.csv"
    trace.write_text("submit_time,runtime,num_gpu\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    fleet = folder / "fleet.yaml"
    fleet.write_text(FLEET)
    return trace, fleet


# -- expansion --------------------------------------------------------------------------------


def test_a_spec_expands_into_one_cell_per_combination_profiles_fastest(tmp_path: Path) -> None:
    (tmp_path / "f1.yaml").write_text(FLEET)
    (tmp_path / "f2.yaml").write_text(FLEET)
    spec = sw.spec_from_dict(
        {
            "trace": {"kind": "gavel", "path": "m.json", "options": {"multi_gpu": True}},
            "profiles": ["fifo", "default", "green"],
            "loads": [0.4, 4.0],
            "seeds": [0, 1, 2, 3],
            "fleets": ["default", "f1.yaml", "f2.yaml"],
            "max_jobs": 100,
        },
        base=tmp_path,
    )
    cells = sw.expand(spec)
    assert len(cells) == 3 * 2 * 4 * 3
    assert [c.index for c in cells] == list(range(len(cells)))
    combos = {(c.profile, c.load, c.seed, c.fleet_file) for c in cells}
    assert len(combos) == len(cells)
    assert [c.profile for c in cells[:4]] == ["fifo", "default", "green", "fifo"]
    assert {c.fleet_file for c in cells} == {"default", str(tmp_path / "f1.yaml"), str(tmp_path / "f2.yaml")}
    assert {c.trace_path for c in cells} == {str(tmp_path / "m.json")}  # relative to the spec's folder
    assert all(c.options == (("multi_gpu", True),) and c.max_jobs == 100 for c in cells)
    assert cells[0].params()["load_kind"] == "jobs_per_hour"


def test_defaults_one_load_one_seed_the_traces_own_fleet() -> None:
    gavel = sw.expand(sw.spec_from_dict({"trace": {"kind": "gavel", "path": "m.json"}}))
    assert [(c.profile, c.load, c.seed, c.fleet_file) for c in gavel] == [("default", 4.0, 0, "default")]
    philly = sw.expand(sw.spec_from_dict({"trace": {"kind": "philly", "path": "p.csv"}, "loads": [1, 2]}))
    assert [(c.load, c.seed) for c in philly] == [(1.0, None), (2.0, None)]
    assert philly[0].params()["load_kind"] == "time_scale"


# -- running ----------------------------------------------------------------------------------


def test_parallel_rows_equal_serial_rows_in_cell_order(matrix: Path, parallel_rows: list[dict[str, Any]]) -> None:
    cells = sw.expand(small_spec(matrix))
    serial = sw.run_serial(cells)
    assert [r["cell"] for r in parallel_rows] == list(range(8))
    assert sw.comparable(parallel_rows) == sw.comparable(serial)
    for row, cell in zip(parallel_rows, cells, strict=True):
        assert (row["profile"], row["load"], row["seed"]) == (cell.profile, cell.load, cell.seed)
        assert row["jobs"] == row["finished"] == 200 and row["fleet"] == "gavel"
        assert row["workload"] == f"gavel:{cell.load:g}jph:seed{cell.seed}"
        assert set(sw.TIMING_FIELDS) <= row.keys()
    # the sweep measures something: seeds and loads change the outcome
    assert len({r["jct_mean_h"] for r in parallel_rows}) > 2


def test_progress_counts_every_cell(matrix: Path) -> None:
    cells = sw.expand(small_spec(matrix))[:2]
    seen: list[tuple[int, int]] = []
    sw.run_serial(cells, lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]


def test_aggregate_is_mean_min_max_over_seeds(parallel_rows: list[dict[str, Any]]) -> None:
    combined = sw.aggregate(parallel_rows)
    assert len(combined) == 2 * 2  # profiles x loads (one fleet); seeds folded
    metrics = sw.metric_names(parallel_rows)
    assert "jct_mean_h" in metrics and "utilization" in metrics and "profile" not in metrics
    for group in combined:
        members = [
            r
            for r in parallel_rows
            if (r["profile"], r["load"], r["fleet_file"]) == (group["profile"], group["load"], group["fleet_file"])
        ]
        assert group["seeds"] == len(members) == 2
        for metric in metrics:
            values = [float(r[metric]) for r in members]
            assert group[f"{metric}_mean"] == pytest.approx(statistics.fmean(values))
            assert group[f"{metric}_min"] == min(values)
            assert group[f"{metric}_max"] == max(values)


def test_aggregate_leaves_out_nan_values() -> None:
    rows = [
        {"cell": 0, "profile": "p", "load": 1.0, "load_kind": "time_scale", "seed": 0, "fleet_file": "default",
         "fleet": "f", "workload": "w", "jct_mean_h": 2.0},
        {"cell": 1, "profile": "p", "load": 1.0, "load_kind": "time_scale", "seed": 1, "fleet_file": "default",
         "fleet": "f", "workload": "w", "jct_mean_h": math.nan},
        {"cell": 2, "profile": "p", "load": 1.0, "load_kind": "time_scale", "seed": 2, "fleet_file": "default",
         "fleet": "f", "workload": "w", "jct_mean_h": 4.0},
    ]  # fmt: skip
    (group,) = sw.aggregate(rows)
    assert (group["seeds"], group["jct_mean_h_mean"], group["jct_mean_h_min"], group["jct_mean_h_max"]) == (
        3,
        3.0,
        2.0,
        4.0,
    )


# -- loads of a real trace ----------------------------------------------------------------------


def test_time_scale_divides_submit_times_and_keeps_the_rest() -> None:
    jobs = tuple(TraceJob(id=f"j{i}", submit_s=100.0 * i, duration_s=50.0 + i, gpus=1) for i in range(5))
    workload = Workload("w", jobs, None)
    faster = sw.scale_time(workload, 4.0)
    assert [j.submit_s for j in faster.jobs] == [100.0 * i / 4.0 for i in range(5)]
    assert [(j.id, j.duration_s, j.gpus) for j in faster.jobs] == [(j.id, j.duration_s, j.gpus) for j in jobs]
    assert faster.name == "w:x4" and sw.scale_time(workload, 1.0) is workload
    with pytest.raises(sw.SweepError):
        sw.scale_time(workload, 0.0)


def test_a_real_traces_load_compresses_its_arrivals_in_the_cells(tmp_path: Path) -> None:
    trace, fleet = write_generic(tmp_path, [(600.0 * i, 300.0, 1 + i % 3) for i in range(30)])
    spec = sw.spec_from_dict(
        {
            "trace": {"kind": "generic", "path": str(trace), "options": GENERIC},
            "profiles": ["fifo"],
            "loads": [1.0, 3.0],
            "fleets": [str(fleet)],
        }
    )
    one, three = sw.expand(spec)
    base, scaled = sw.workload_of(one), sw.workload_of(three)
    assert [j.submit_s / 3.0 for j in base.jobs] == [j.submit_s for j in scaled.jobs]
    rows = sw.run_serial([one, three])
    # the same jobs over a third of the time: a shorter makespan
    assert rows[1]["makespan_h"] < rows[0]["makespan_h"] and rows[0]["jobs"] == rows[1]["jobs"] == 30


def test_fill_arrivals_draw_per_seed_until_the_fleet_is_asked_for_its_load(tmp_path: Path) -> None:
    trace, fleet = write_generic(tmp_path, [(600.0 * i, 300.0, 1 + i % 3) for i in range(30)])
    spec = sw.spec_from_dict(
        {
            "trace": {"kind": "generic", "path": str(trace), "options": GENERIC},
            "arrivals": "fill",
            "profiles": ["best-fit"],
            "seeds": [0, 1],
            "fleets": [str(fleet)],
        }
    )
    cells = sw.expand(spec)
    assert [(c.load, c.seed) for c in cells] == [(sw.DEFAULT_FILL, 0), (sw.DEFAULT_FILL, 1)]
    gpus = sw.fleet_of(cells[0]).gpus()
    drawn = [sw.workload_of(cell) for cell in cells]
    for workload in drawn:
        asked = [job.gpu_demand for job in workload.jobs]
        assert sum(asked) >= sw.DEFAULT_FILL * gpus > sum(asked[:-1])
        assert all(math.isinf(job.duration_s) for job in workload.jobs)
    assert [j.id for j in drawn[0].jobs] != [j.id for j in drawn[1].jobs]
    rows = sw.run_serial(cells)
    assert all(row["load_kind"] == "fill_to" and 0 < row["allocated_at_full_demand"] <= 1 for row in rows)


# -- bad specs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"profiles": ["fifo"]}, "trace"),
        ({"trace": {"kind": "helios", "path": "x"}}, "trace.kind"),
        ({"trace": {"kind": "gavel", "path": "x", "options": {"seed": 3}}}, "trace.options"),
        ({"trace": {"kind": "gavel", "path": "x"}, "loads": [4.0, -1.0]}, "loads"),
        ({"trace": {"kind": "gavel", "path": "x"}, "profiles": []}, "profiles"),
        ({"trace": {"kind": "gavel", "path": "x"}, "seeds": [0, 0]}, "seeds"),
        ({"trace": {"kind": "philly", "path": "x"}, "seeds": [1, 2]}, "seeds"),
        ({"trace": {"kind": "gavel", "path": "x"}, "arrivals": "fill"}, "arrivals"),
        ({"trace": {"kind": "philly", "path": "x"}, "arrivals": "flood"}, "arrivals"),
        ({"trace": {"kind": "gavel", "path": "x"}, "max_jobs": 0}, "max_jobs"),
        ({"trace": {"kind": "gavel", "path": "x"}, "polices": ["fifo"]}, "polices"),
    ],
)
def test_a_bad_spec_names_its_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(sw.SweepError) as raised:
        sw.spec_from_dict(data)
    assert raised.value.field == field
    assert field in str(raised.value)


def test_check_names_an_unknown_profile_and_a_bad_fleet(tmp_path: Path, matrix: Path) -> None:
    spec = sw.spec_from_dict({"trace": {"kind": "gavel", "path": str(matrix)}, "profiles": ["fifo", "nope"]})
    with pytest.raises(sw.SweepError, match="unknown scheduler profile 'nope'") as raised:
        sw.check(spec)
    assert raised.value.field == "profiles[1]"
    (tmp_path / "bad.yaml").write_text("centers: []\n")
    spec = sw.spec_from_dict({"trace": {"kind": "gavel", "path": str(matrix)}, "fleets": [str(tmp_path / "bad.yaml")]})
    with pytest.raises(sw.SweepError) as raised:
        sw.check(spec)
    assert raised.value.field == "fleets[0]"
    spec = sw.spec_from_dict({"trace": {"kind": "gavel", "path": str(tmp_path / "absent.json")}})
    with pytest.raises(sw.SweepError, match="no such file"):
        sw.check(spec)


def test_a_bad_trace_row_in_a_worker_is_an_error_naming_the_cell(tmp_path: Path) -> None:
    trace, fleet = write_generic(tmp_path, [(0.0, 10.0, 1)])
    trace.write_text(trace.read_text() + "60,abc,1\n")
    spec = sw.spec_from_dict(
        {"trace": {"kind": "generic", "path": str(trace), "options": GENERIC}, "fleets": [str(fleet)]}
    )
    with pytest.raises(sw.SweepError, match=r"cell 0 .*line 3") as raised:
        sw.run_serial(sw.expand(spec))
    assert raised.value.field == "runtime"


# -- the command -----------------------------------------------------------------------------


def cli(*args: str) -> Any:
    """`suanli sweep ...` as main.py will register it, with the same error handling."""
    app = typer.Typer(cls=FriendlyGroup, pretty_exceptions_enable=False)
    app.callback()(main_options)
    app.command("sweep")(sweep_cli.sweep)
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, ["sweep", *args])


def test_the_command_prints_the_comparison_and_writes_the_files(tmp_path: Path) -> None:
    trace, fleet = write_generic(tmp_path, [(120.0 * i, 900.0, 1 + i % 4) for i in range(40)])
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        "name: mine\n"
        "trace: {kind: generic, path: mine.csv, options: {submit: submit_time, duration: runtime, gpus: num_gpu}}\n"
        "profiles: [fifo, default]\nloads: [1, 4]\nfleets: [fleet.yaml]\n"
    )
    report = tmp_path / "out" / "sweep.html"
    result = cli(str(spec), "--workers", "1", "--out", str(tmp_path / "out"), "--report", str(report))
    assert result.exit_code == 0, result.stderr
    assert "sweep mine" in result.stdout and "fifo" in result.stdout
    assert str(report) in result.stderr.replace("\n", "") and "Sweep mine" in report.read_text()
    rows = json.loads((tmp_path / "out" / "rows.json").read_text())
    assert [(r["profile"], r["load"]) for r in rows] == [
        ("fifo", 1.0),
        ("default", 1.0),
        ("fifo", 4.0),
        ("default", 4.0),
    ]
    assert (tmp_path / "out" / "rows.csv").read_text().count("\n") == 5
    assert (tmp_path / "out" / "summary.csv").read_text().count("\n") == 5
    # options replace the file's fields; -o json is plain JSON on stdout
    result = cli(str(spec), "-p", "fifo", "--load", "2", "-j", "1", "-o", "json")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["cells"] == 1 and answer["rows"][0]["load"] == 2.0 and answer["summary"][0]["seeds"] == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--kind", "gavel"), "give a sweep file"),
        (("--kind", "nope", "--trace", "x.json"), "trace.kind"),
        (("--kind", "gavel", "--trace", "x.json", "--load", "-2"), "loads"),
        (("--kind", "gavel", "--trace", "x.json", "--ray-address", "http://127.0.0.1:8265"), "GCS address"),
    ],
)
def test_a_bad_command_is_one_error_line_and_exit_2(args: tuple[str, ...], expected: str, matrix: Path) -> None:
    args = tuple(str(matrix) if a == "x.json" else a for a in args)
    result = cli(*args)
    assert result.exit_code == 2, result.stdout
    assert "error:" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_bad_spec_file_is_an_error_naming_the_field(tmp_path: Path) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text("trace: {kind: gavel, path: m.json}\nloads: fast\n")
    result = cli(str(spec))
    assert result.exit_code == 2 and "loads" in result.stderr and "Traceback" not in result.stderr
    spec.write_text("trace: [unclosed\n")
    result = cli(str(spec))
    assert result.exit_code == 2 and "not valid YAML" in result.stderr


def test_importing_the_sweep_does_not_import_ray() -> None:
    code = "import sys, suanli, suanli.simulation.sweep, suanli.adapters.cli.sweep; print('ray' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert answer.stdout.strip() == "False"


# -- a trace that ships with the package, by name ---------------------------------------------


def test_a_trace_by_name_gives_its_kind_and_file_and_workers_find_it_in_their_own_install() -> None:
    spec = sw.spec_from_dict({"trace": {"name": "gavel"}, "max_jobs": 50})
    assert spec.trace.kind == "gavel" and spec.trace.path == named_trace("gavel").path
    sw.check(spec)
    (cell,) = sw.expand(spec)
    assert cell.trace_name == "gavel"
    elsewhere = dataclasses.replace(cell, trace_path="/the/driver/s/copy.json")  # e.g. on a Ray cluster
    assert sw.workload_of(elsewhere).jobs == sw.workload_of(cell).jobs


@pytest.mark.parametrize(
    ("trace", "words"),
    [
        ({"name": "gavle"}, "unknown trace 'gavle'"),
        ({"name": "gavel", "path": "m.json"}, "not both"),
        ({"name": "gavel", "kind": "philly"}, "read as gavel"),
        ({"name": "openb-default"}, "does not ship"),
    ],
)
def test_a_bad_trace_name_is_an_error_on_the_trace(trace: dict[str, str], words: str) -> None:
    with pytest.raises(sw.SweepError, match=words) as raised:
        sw.spec_from_dict({"trace": trace})
    assert raised.value.field == "trace"


def test_the_command_takes_a_trace_by_name_over_the_files_trace(tmp_path: Path) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text("trace: {kind: philly, path: absent.csv}\nprofiles: [fifo]\n")
    result = cli(str(spec), "--trace", "pollux-3", "--max-jobs", "40", "-j", "1", "-o", "json")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["rows"][0]["fleet"] == "pollux" and answer["rows"][0]["jobs"] == 40
    result = cli("--trace", "phily")
    assert result.exit_code == 2 and "unknown trace 'phily'" in result.stderr
