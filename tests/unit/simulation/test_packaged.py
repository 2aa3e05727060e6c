"""The public traces that ship inside the package: every name loads, with its own fleet, from any
folder; the data folder is package data, small, and says where each file comes from; a wrong
name is told the names there are."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from suanli.simulation import packaged
from suanli.simulation.fleet import trace_fleet
from suanli.simulation.traces import load_trace

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "src" / "suanli"
LIMIT_BYTES = 7_000_000


def data_files() -> set[Path]:
    return {p for p in packaged.DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize("name", sorted(packaged.TRACES))
def test_every_named_trace_loads_with_its_kind_and_brings_its_fleet(name: str) -> None:
    trace = packaged.named_trace(name)
    assert trace.path.is_file() and trace.path.is_relative_to(packaged.DATA)
    options = {"num_jobs": 20, "jobs_per_hour": 4.0} if trace.kind == "gavel" else {}
    workload = load_trace(trace.kind, trace.path, **options)
    assert len(workload) > 0 and workload.skipped == 0
    fleet = trace_fleet(trace.kind, trace.path, workload)
    assert fleet is not None and fleet.gpus() > 0


def test_the_data_folder_is_package_data_and_under_the_size_limit() -> None:
    files = data_files()
    assert sum(p.stat().st_size for p in files) < LIMIT_BYTES
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["suanli"]
    shipped = {p for pattern in patterns for p in PACKAGE.glob(pattern) if p.is_file()}
    assert files <= shipped, sorted(str(p) for p in files - shipped)


def test_each_trace_folder_says_where_it_comes_from_its_licence_and_what_to_cite() -> None:
    index = (packaged.DATA / "README.md").read_text()
    folders = {trace.path.relative_to(packaged.DATA).parts[0] for trace in packaged.TRACES.values()}
    assert folders == {p.name for p in packaged.DATA.iterdir() if p.is_dir()}
    for folder in folders:
        readme = (packaged.DATA / folder / "README.md").read_text()
        assert "**Source**" in readme and "**Licence**" in readme and "**Cite**" in readme, folder
        assert any((packaged.DATA / folder).glob("LICENSE*")), f"{folder} carries its licence text"
    for name in packaged.NOT_SHIPPED:
        assert name.split("-")[0] in index
    assert "`philly`" in index and "`gavel`" in index and "`pollux-1`" in index


def test_an_unknown_name_lists_the_known_ones_and_an_unshipped_one_says_where_to_get_it() -> None:
    with pytest.raises(packaged.UnknownTrace) as raised:
        packaged.named_trace("phily")
    assert all(name in raised.value.message for name in packaged.TRACES)
    with pytest.raises(packaged.UnknownTrace, match="does not ship") as raised:
        packaged.named_trace("openb-default")
    assert "github.com/alibaba/clusterdata" in raised.value.message and "--kind openb" in raised.value.message
    assert packaged.is_name("philly") and packaged.is_name("phily")
    assert not packaged.is_name("./philly") and not packaged.is_name("philly.csv")


# -- `suanli simulate NAME` ---------------------------------------------------------------------


def simulate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["simulate", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_simulate_replays_a_shipped_trace_by_name_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = simulate("gavel", "--max-jobs", "30", "-o", "json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert (summary["fleet"], summary["jobs"], summary["finished"]) == ("gavel", 30, 30)
    code, stdout, stderr = simulate("pollux-2", "--profile", "fifo", "-o", "json")
    assert code == 0, stderr
    assert json.loads(stdout)["fleet"] == "pollux"
    code, stdout, stderr = simulate("philly", "--max-jobs", "300", "-o", "json")
    assert code == 0, stderr
    assert json.loads(stdout)["workload"] == "philly"


def test_simulate_help_lists_the_names() -> None:
    code, stdout, _ = simulate("--help")
    assert code == 0
    assert all(name in stdout for name in packaged.TRACES)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("phily",), "unknown trace 'phily'"),
        (("openb-default",), "does not ship with Suanli"),
        (("philly", "--kind", "gavel"), "leave out --kind gavel"),
    ],
)
def test_simulate_refuses_a_bad_name_in_one_line(args: tuple[str, ...], words: str) -> None:
    code, stdout, stderr = simulate(*args)
    assert code == 2 and stdout == ""
    said = stderr.replace("\n", "")
    assert words in said and "Traceback" not in said
    if args[0] == "phily":
        assert all(name in said for name in packaged.TRACES)
