"""The local executor with real processes: outcomes, environment, logs, devices, bookkeeping."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.capacity import CapacitySource
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, Executor, ExecutorRefused
from suanli.domain.accelerators import CPU
from suanli.domain.centers import Pool
from suanli.domain.errors import InvalidSpec
from tests.builders import make_pool
from tests.integration.agent.conftest import MakeExecutor, status_of, wait_final

PY = sys.executable
PRINT_ENV = """
import json, os, sys
print("hello from the job")
print("to stderr", file=sys.stderr)
names = ["SUANLI_JOB_ID", "SUANLI_ATTEMPT", "CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES",
         "PYTHONUNBUFFERED", "SUANLI_TOKEN", "MY_SETTING", "RANK"]
with open(sys.argv[1], "w") as out:
    json.dump({"env": {n: os.environ.get(n) for n in names}, "cwd": os.getcwd()}, out)
"""


def spec(job: int, command: str | tuple[str, ...], attempt: int = 1, **fields: Any) -> AttemptSpec:
    return AttemptSpec(key=AttemptKey(job, attempt), name=f"job-{job}", command=command, **fields)


def test_success_shows_output_and_the_job_sees_its_ids_and_devices(
    make_executor: MakeExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUANLI_TOKEN", "the agent's secret")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "9")
    executor = make_executor(declared="A100-80G:4")
    assert executor.declared and executor.source is CapacitySource.DECLARED
    out = tmp_path / "seen.json"
    job = spec(
        7,
        (PY, "-c", PRINT_ENV, str(out)),
        attempt=2,
        accelerator="A100-80G",
        accelerators_per_node=2,
        env={"MY_SETTING": "x=1", "SUANLI_JOB_ID": "forged"},
    )
    executor.start(job)

    status = wait_final(executor, job.key)

    assert (status.state, status.exit_code) == (AttemptState.SUCCEEDED, 0)
    logs = executor.read_logs(job.key, 0)
    assert b"hello from the job\n" in logs and b"to stderr\n" in logs
    seen = json.loads(out.read_text())
    env = seen["env"]
    assert (env["SUANLI_JOB_ID"], env["SUANLI_ATTEMPT"], env["MY_SETTING"]) == ("7", "2", "x=1")
    devices = env["CUDA_VISIBLE_DEVICES"].split(",")
    assert len(set(devices)) == 2 and set(devices) <= {"0", "1", "2", "3"}
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["SUANLI_TOKEN"] is None and env["RANK"] is None
    assert seen["cwd"] == str(tmp_path / "work" / "7-2")


def test_ascend_devices_go_in_the_ascend_variable(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor(declared="910B:2")
    out = tmp_path / "seen.json"
    job = spec(1, (PY, "-c", PRINT_ENV, str(out)), accelerator="910B", accelerators_per_node=1)
    executor.start(job)
    assert wait_final(executor, job.key).state is AttemptState.SUCCEEDED
    env = json.loads(out.read_text())["env"]
    assert env["ASCEND_RT_VISIBLE_DEVICES"] == "0"
    assert env["CUDA_VISIBLE_DEVICES"] is None


def test_a_string_command_runs_under_sh_and_a_nonzero_exit_fails_with_the_code(make_executor: MakeExecutor) -> None:
    executor = make_executor(declared="A100-80G:1")
    job = spec(2, "echo one; echo two >&2; exit 3")
    executor.start(job)
    status = wait_final(executor, job.key)
    assert (status.state, status.exit_code, status.message) == (AttemptState.FAILED, 3, "exited with code 3")
    assert executor.read_logs(job.key, 0) == b"one\ntwo\n"


def test_a_job_killed_by_a_signal_fails_with_the_negative_signal(make_executor: MakeExecutor) -> None:
    executor = make_executor(declared="A100-80G:1")
    job = spec(3, (PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    executor.start(job)
    status = wait_final(executor, job.key)
    assert (status.state, status.exit_code) == (AttemptState.FAILED, -9)
    assert status.message == "was killed by signal SIGKILL"


HOSTILE = [
    "'; touch {marker}; '",
    '"; touch {marker}; "',
    "$(touch {marker})",
    "`touch {marker}`",
    "a;touch {marker}",
    "x && touch {marker} || touch {marker}",
    "line1\nline2\n; touch {marker}",
    "$HOME ${{PATH}} * ~ \\ | > {marker}",
    "-c",
    "",
    "{{}} %s %(x)s",
    "算力 ✓",
]


def test_hostile_strings_arrive_unchanged_and_no_shell_sees_them(make_executor: MakeExecutor, tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    values = [text.format(marker=marker) for text in HOSTILE]
    out = tmp_path / "seen.json"
    script = (
        "import json, os, sys\n"
        "env = {k: v for k, v in os.environ.items() if k.startswith('HOSTILE_')}\n"
        "json.dump({'argv': sys.argv[2:], 'env': env}, open(sys.argv[1], 'w'))\n"
    )
    env = {f"HOSTILE_{i}": value for i, value in enumerate(values)}
    executor = make_executor(declared="A100-80G:1")
    job = AttemptSpec(key=AttemptKey(4, 1), name="hostile", command=(PY, "-c", script, str(out), *values), env=env)
    executor.start(job)
    assert wait_final(executor, job.key).state is AttemptState.SUCCEEDED
    seen = json.loads(out.read_text())
    assert seen == {"argv": values, "env": env}
    assert not marker.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["seen.json", "work"]
    assert list((tmp_path / "work" / "4-1").iterdir()) == []


def test_refused_when_not_enough_devices_are_free_and_devices_return_after_the_attempt(
    make_executor: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_executor(declared="A100-80G:2")
    go = tmp_path / "go"
    wait_for_go = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
    first = spec(5, (PY, "-c", wait_for_go), accelerator="A100", accelerators_per_node=1)
    executor.start(first)
    assert executor.free_devices() == {"declared-a100-80g": [1]}

    with pytest.raises(ExecutorRefused, match=r"needs 2, free now: 1 \(indices 1\)"):
        executor.start(spec(6, (PY, "-c", "pass"), accelerator="A100", accelerators_per_node=2))
    with pytest.raises(ExecutorRefused, match=r"needs 2 x 1, free now: 1"):
        executor.start(spec(6, (PY, "-c", "pass"), accelerator="A100", accelerators_per_node=1, nodes=2))
    assert {s.key for s in executor.poll()} == {first.key}  # a refused attempt leaves no trace

    go.touch()
    assert wait_final(executor, first.key).state is AttemptState.SUCCEEDED
    assert executor.free_devices() == {"declared-a100-80g": [0, 1]}
    out = tmp_path / "seen.json"
    second = spec(6, (PY, "-c", PRINT_ENV, str(out)), pool="declared-a100-80g", accelerators_per_node=2)
    executor.start(second)
    assert wait_final(executor, second.key).state is AttemptState.SUCCEEDED
    assert json.loads(out.read_text())["env"]["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_a_command_that_cannot_start_fails_and_says_why(make_executor: MakeExecutor) -> None:
    executor = make_executor(declared="A100-80G:1")
    job = spec(8, ("/no/such/binary", "x"), pool="declared-a100-80g", accelerators_per_node=1)
    executor.start(job)
    status = status_of(executor, job.key)
    assert status.state is AttemptState.FAILED and "could not start" in status.message
    assert b"/no/such/binary" in executor.read_logs(job.key, 0)
    assert executor.free_devices() == {"declared-a100-80g": [0]}
    empty = spec(9, ())
    executor.start(empty)
    assert status_of(executor, empty.key).message == "could not start: the command is empty"


def test_a_given_workdir_is_used_and_logs_stay_under_the_work_root(make_executor: MakeExecutor, tmp_path: Path) -> None:
    workdir = tmp_path / "project"
    workdir.mkdir()
    executor = make_executor()
    job = spec(10, "pwd; touch made-here", workdir=str(workdir))
    executor.start(job)
    assert wait_final(executor, job.key).state is AttemptState.SUCCEEDED
    assert (workdir / "made-here").exists()
    assert executor.read_logs(job.key, 0) == f"{workdir}\n".encode()
    assert executor.log_path(job.key).parent == tmp_path / "work" / "logs"


def test_logs_read_in_chunks_and_survive_forget(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    job = spec(11, (PY, "-c", "print('x' * 99)\nprint('y' * 99)"))
    executor.start(job)
    executor.start(job)  # the same key again is not a second run
    assert wait_final(executor, job.key).state is AttemptState.SUCCEEDED
    chunks, offset = [], 0
    while chunk := executor.read_logs(job.key, offset, limit=64):
        chunks.append(chunk)
        offset += len(chunk)
    assert b"".join(chunks) == b"x" * 99 + b"\n" + b"y" * 99 + b"\n"
    assert len(chunks) == 4
    executor.forget(job.key)
    assert executor.poll() == []
    assert executor.read_logs(job.key, 100, limit=3) == b"yyy"
    assert executor.read_logs(AttemptKey(999, 1), 0) == b""


def test_forgetting_a_running_attempt_is_refused(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    job = spec(12, (PY, "-c", "import time; time.sleep(30)"))
    executor.start(job)
    with pytest.raises(ValueError, match="still running"):
        executor.forget(job.key)
    executor.cancel(job.key, grace_s=0)
    assert wait_final(executor, job.key).state is AttemptState.CANCELLED
    executor.forget(job.key)


def test_unknown_pools_and_models_are_refused(make_executor: MakeExecutor) -> None:
    executor = make_executor(declared="A100-80G:2")
    with pytest.raises(ExecutorRefused, match="no pool 'elsewhere' here; this machine has declared-a100-80g"):
        executor.start(spec(13, "true", pool="elsewhere"))
    with pytest.raises(ExecutorRefused, match="no Ascend910B pool here"):
        executor.start(spec(13, "true", accelerator="Ascend910B", accelerators_per_node=1))


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has NVIDIA GPUs")
def test_without_gpus_or_a_declaration_the_pool_is_this_machines_cores(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    assert executor.source is CapacitySource.CPU and not executor.declared
    (pool,) = executor.pools()
    assert (pool.name, pool.accelerator, pool.nodes) == ("local-cpu", CPU, 1)
    assert pool.accelerators_per_node == os.cpu_count()


@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="needs NVIDIA GPUs")
def test_real_gpus_are_detected_and_handed_to_the_job(make_executor: MakeExecutor, tmp_path: Path) -> None:
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    executor = make_executor()
    assert executor.source is CapacitySource.NVIDIA_SMI
    assert sum(pool.accelerators for pool in executor.pools()) == len(listed.strip().splitlines())
    pool = executor.pools()[0]
    first_index = executor.free_devices()[pool.name][0]
    out = tmp_path / "seen.json"
    job = spec(
        14, (PY, "-c", PRINT_ENV, str(out)), pool=pool.name, accelerator=pool.accelerator, accelerators_per_node=1
    )
    executor.start(job)
    assert wait_final(executor, job.key).state is AttemptState.SUCCEEDED
    assert json.loads(out.read_text())["env"]["CUDA_VISIBLE_DEVICES"] == str(first_index)


def test_configured_pools_hide_other_devices_from_jobs_that_did_not_get_them(
    make_executor: MakeExecutor, tmp_path: Path
) -> None:
    def pool(name: str, accelerator: str, count: int) -> Pool:
        return make_pool(name, accelerator, count, nodes=1, price=0, cpus=8, memory_gb=16)

    executor: Executor = make_executor(pools=[pool("gpu", "H100", 2), pool("cores", CPU, 2)])
    seen = []
    for job, (pool_name, count) in enumerate([("gpu", 1), ("cores", 2)], start=40):
        out = tmp_path / f"{job}.json"
        attempt = spec(job, (PY, "-c", PRINT_ENV, str(out)), pool=pool_name, accelerators_per_node=count)
        executor.start(attempt)
        assert wait_final(executor, attempt.key).state is AttemptState.SUCCEEDED
        seen.append(json.loads(out.read_text())["env"]["CUDA_VISIBLE_DEVICES"])
    assert seen == ["0", ""]


def test_capacity_is_given_one_way_only(make_executor: MakeExecutor) -> None:
    with pytest.raises(ValueError, match="not both"):
        make_executor(pools=[], declared="A100:1")
    with pytest.raises(InvalidSpec, match="at least one pool"):
        make_executor(pools=[])
