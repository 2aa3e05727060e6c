"""Bad trace data gives a TraceError naming file, line and column, or is skipped and counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from suanli.simulation.traces import load_trace
from suanli.simulation.traces.errors import TraceError
from suanli.simulation.traces.generic import load_generic
from suanli.simulation.traces.openb import load_openb
from suanli.simulation.traces.philly import load_philly
from suanli.simulation.traces.pollux import load_pollux

PHILLY_HEADER = "timestamp,duration,num_gpus,gpu_time,cluster\n"
OPENB_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(call: object) -> TraceError:
    assert callable(call)
    with pytest.raises(TraceError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("2017-10-09 07:01:55,abc,1,66.0,vc1", "duration", "not a number"),
        ("2017-10-09 07:01:55,-5,1,66.0,vc1", "duration", "negative"),
        ("2017-10-09 07:01:55,nan,1,66.0,vc1", "duration", "finite"),
        ("2017-10-09 07:01:55,66,1.5,66.0,vc1", "num_gpus", "whole number"),
        ("2017-10-09 07:01:55,66,-1,66.0,vc1", "num_gpus", "below 0"),
        ("09/10/2017 7:01,66,1,66.0,vc1", "timestamp", "2017-10-09 07:01:55"),
        ("2017-10-09 07:01:55,66,1,66.0,", "cluster", "empty"),
        ("2017-10-09 07:01:55,66,1,66.0", "cluster", "4 fields but the header has 5"),
    ],
)
def test_a_bad_philly_row_names_file_line_and_column(tmp_path: Path, row: str, column: str, words: str) -> None:
    path = write(tmp_path, "philly.csv", PHILLY_HEADER + "2017-10-09 07:00:00,10,1,10,vc1\n" + row + "\n")
    error = error_of(lambda: load_philly(path))
    assert (error.file, error.line, error.column) == (path, 3, column)
    assert str(path) in str(error) and "line 3" in str(error) and repr(column) in str(error)
    assert words in str(error)


def test_skip_bad_counts_rows_and_keeps_reasons(tmp_path: Path) -> None:
    good = "2017-10-09 07:00:00,10,1,10,vc1\n"
    path = write(
        tmp_path,
        "philly.csv",
        PHILLY_HEADER + good + "x,10,1,10,vc1\n" + good + "2017-10-09 07:00:00,-1,1,10,vc1\n" + "a,b\n" + good,
    )
    workload = load_philly(path, skip_bad=True)
    assert len(workload) == 3 and workload.skipped == 3
    assert [reason.split(", ")[1] for reason in workload.skip_reasons] == ["line 3", "line 5", "line 6"]


def test_missing_file_wrong_header_and_empty_file(tmp_path: Path) -> None:
    missing = error_of(lambda: load_philly(tmp_path / "nope.csv"))
    assert "no such file" in str(missing) and "nope.csv" in str(missing)
    wrong = write(tmp_path, "wrong.csv", "when,how_long\n1,2\n")
    header = error_of(lambda: load_philly(wrong))
    assert header.line == 1 and header.column == "timestamp" and "lacks column(s)" in str(header)
    empty = write(tmp_path, "empty.csv", "")
    assert "empty" in str(error_of(lambda: load_philly(empty)))
    assert "folder" in str(error_of(lambda: load_philly(tmp_path)))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    assert "UTF-8" in str(error_of(lambda: load_philly(binary)))


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("p1,1000,1024,1,1500,,LS,Running,10,20,10", "gpu_milli", "more than one GPU"),
        ("p1,1000,1024,2,500,,LS,Running,10,20,10", "gpu_milli", "one-GPU pods only"),
        ("p1,1000,1024,0,500,,LS,Running,10,20,10", "gpu_milli", "num_gpu is 0"),
        ("p1,1000,1024,1,0,,LS,Running,10,20,10", "gpu_milli", "asks for GPUs"),
        ("p1,1000,1024,1,500,,LS,Running,10,5,10", "deletion_time", "ends before it starts"),
        ("p1,1000,1024,1,500,,LS,Running,10,20,5", "scheduled_time", "before creation_time"),
        ("p1,1000,1024,1,500,,LS,Pending,30,20,", "deletion_time", "before creation_time"),
        (",1000,1024,1,500,,LS,Running,10,20,10", "name", "empty"),
    ],
)
def test_a_bad_openb_pod_names_its_column(tmp_path: Path, row: str, column: str, words: str) -> None:
    path = write(tmp_path, "openb_pod_list_x.csv", OPENB_HEADER + row + "\n")
    error = error_of(lambda: load_openb(path))
    assert (error.line, error.column) == (2, column) and words in str(error)
    assert load_openb(path, skip_bad=True).skipped == 1


def test_openb_with_creation_but_no_deletion_is_a_header_error(tmp_path: Path) -> None:
    path = write(tmp_path, "pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time\np,1,1,0,0,5\n")
    error = error_of(lambda: load_openb(path))
    assert (error.line, error.column) == (1, "deletion_time")


def test_pollux_bad_rows_and_unknown_application(tmp_path: Path) -> None:
    profiles = tmp_path / "traces"
    (profiles / "toy").mkdir(parents=True)
    (profiles / "toy" / "validation-8.csv").write_text("progress,iteration,metric,grad_sqr,grad_var\n1,10,0,0,0\n")
    (profiles / "toy" / "placements.csv").write_text("placement,local_bsz,step_time,sync_time\n1,8,0.5,0\n")
    (profiles / "toy" / "scalability.csv").write_text("num_nodes,num_replicas,local_bsz,step_time,sync_time\n")
    header = "name,time,application,num_replicas,batch_size\n"
    path = write(tmp_path, "w.csv", header + "a,0,toy,1,8\nb,5,nosuch,1,8\nc,x,toy,1,8\nd,6,toy,0,8\n")
    error = error_of(lambda: load_pollux(path, profiles=profiles))
    assert (error.line, error.column) == (3, "application") and "toy" in str(error)
    workload = load_pollux(path, profiles=profiles, skip_bad=True)
    assert len(workload) == 1 and workload.skipped == 3
    assert workload.jobs[0].duration_s == 10 * 0.5


def test_generic_end_before_start_and_units(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mine.csv",
        "job,who,queue,sub,begin,finish,gpu\n"
        "j1,ann,q1,2024-03-01 08:00:00,2024-03-01 08:10:00,2024-03-01 09:10:00,2\n"
        "j2,bob,q2,2024-03-01 07:00:00,2024-03-01 07:00:00,2024-03-01 06:00:00,1\n",
    )
    options: dict[str, Any] = dict(
        submit="sub", start="begin", end="finish", gpus="gpu", user="who", group="queue", id="job"
    )
    error = error_of(lambda: load_generic(path, time_format="iso", **options))
    assert (error.line, error.column) == (3, "finish") and "before the start" in str(error)
    workload = load_generic(path, time_format="%Y-%m-%d %H:%M:%S", skip_bad=True, **options)
    assert workload.skipped == 1
    (job,) = workload.jobs
    assert (job.id, job.user, job.group, job.gpus, job.submit_s, job.duration_s) == ("j1", "ann", "q1", 2, 0.0, 3600.0)
    bad_format = error_of(lambda: load_generic(path, time_format="%d/%m/%Y", **options))
    assert bad_format.column == "sub" and "%d/%m/%Y" in str(bad_format)


def test_generic_numeric_times_durations_and_status_filter(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "t_ms,mins,state\n5000,2,done\n2000,1.5,failed\n9000,3,done\n")
    workload = load_generic(
        path, submit="t_ms", time_unit="ms", duration="mins", duration_unit="min", status="state", keep_status={"done"}
    )
    assert [(j.submit_s, j.duration_s) for j in workload.jobs] == [(0.0, 120.0), (4.0, 180.0)]
    assert error_of(lambda: load_generic(path, submit="t_ms")).line is None  # no run time mapped
    missing = error_of(lambda: load_generic(path, submit="when", duration="mins"))
    assert (missing.line, missing.column) == (1, "when")
    unit = error_of(lambda: load_generic(path, submit="t_ms", duration="mins", time_unit="days"))
    assert "time_unit" in str(unit)


def test_registry_dispatches_and_rejects_unknown_kinds_and_options(tmp_path: Path) -> None:
    path = write(tmp_path, "philly.csv", PHILLY_HEADER + "2017-10-09 07:00:00,10,1,10,vc1\n")
    assert len(load_trace("philly", path)) == 1
    assert "known: gavel, generic" in str(error_of(lambda: load_trace("helios2", path)))
    assert "bad option" in str(error_of(lambda: load_trace("philly", path, colour="red")))


def test_gavel_matrix_errors(tmp_path: Path) -> None:
    from suanli.simulation.traces.gavel import generate_gavel

    broken = write(tmp_path, "m.json", '{"v100": {\n  "x": }')
    error = error_of(lambda: generate_gavel(broken, jobs_per_hour=1))
    assert error.line == 2 and "not valid JSON" in str(error)
    partial = write(tmp_path, "p.json", '{"v100": {}}')
    assert "p100" in str(error_of(lambda: generate_gavel(partial, jobs_per_hour=1)))
    bad_key = write(tmp_path, "k.json", '{"v100": {"oops": {"null": 1}}, "p100": {}, "k80": {}}')
    assert error_of(lambda: generate_gavel(bad_key, jobs_per_hour=1)).column == "v100.oops"
    assert "positive" in str(error_of(lambda: generate_gavel(bad_key, jobs_per_hour=0)))
