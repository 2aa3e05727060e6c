"""The executor conformance suite: the same tests, unchanged, against every backend.

A backend joins by adding ``backend_<name>.py`` (see harness.py) to BACKENDS below. Jobs are
Python one-liners that write what they saw into a file in ``shared_dir``, so the test checks what
the job really received, whatever the backend.
"""

from __future__ import annotations

import importlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, ExecutorRefused
from tests.conformance.harness import Backend, BackendModule, logs_of, status_of, wait_state

BACKENDS = ["local", "slurm", "ray"]


def _module(name: str) -> BackendModule | None:
    try:
        return importlib.import_module(f"tests.conformance.backend_{name}")  # type: ignore[return-value]
    except ModuleNotFoundError:
        return None


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    module = _module(request.param)
    if module is None:
        pytest.skip(f"backend {request.param!r} has no conformance module yet")
    reason = module.unavailable()
    if reason:
        pytest.skip(f"{request.param}: {reason}")
    with module.backend(tmp_path) as made:
        yield made


def _job(backend: Backend, script: str, *args: str, **fields: Any) -> AttemptSpec:
    # Job ids differ per test run, so a backend that keeps history never sees a key twice.
    job_id = uuid.uuid4().int % 10**9 + 1
    fields.setdefault("pool", backend.pool)
    fields.setdefault("accelerator", backend.accelerator)
    fields.setdefault("name", f"conformance-{job_id}")
    return AttemptSpec(key=AttemptKey(job_id, 1), command=(backend.python, "-c", script, *args), **fields)


def _shared(backend: Backend, name: str) -> Path:
    assert backend.shared_dir is not None, "the conformance suite needs a folder the jobs can write"
    return backend.shared_dir / name


def test_pools_are_reported(backend: Backend) -> None:
    pools = {pool.name: pool for pool in backend.executor.pools()}
    assert backend.pool in pools
    pool = pools[backend.pool]
    assert pool.nodes >= 1 and (pool.accelerators_per_node >= 2 or backend.accelerator == "CPU")


def test_success_with_output(backend: Backend) -> None:
    job = _job(backend, "import sys; print('out line'); print('err line', file=sys.stderr)")
    backend.executor.start(job)
    status = wait_state(backend.executor, job.key, backend.finish_s)
    assert (status.state, status.exit_code) == (AttemptState.SUCCEEDED, 0)
    output = logs_of(backend.executor, job.key)
    assert b"out line" in output and b"err line" in output


def test_a_failing_job_reports_its_exit_code(backend: Backend) -> None:
    job = _job(backend, "import sys; print('about to fail'); sys.exit(7)")
    backend.executor.start(job)
    status = wait_state(backend.executor, job.key, backend.finish_s)
    assert (status.state, status.exit_code) == (AttemptState.FAILED, 7)
    assert b"about to fail" in logs_of(backend.executor, job.key)


def test_the_job_sees_its_ids_and_its_accelerators(backend: Backend) -> None:
    seen = _shared(backend, "env.json")
    script = (
        "import json, os, sys\n"
        "names = ['SUANLI_JOB_ID', 'SUANLI_ATTEMPT', 'CUDA_VISIBLE_DEVICES', 'MY_SETTING']\n"
        "json.dump({n: os.environ.get(n) for n in names}, open(sys.argv[1], 'w'))\n"
    )
    per_node = 0 if backend.accelerator == "CPU" else 2
    job = _job(backend, script, str(seen), accelerators_per_node=per_node, env={"MY_SETTING": "a=b c"})
    backend.executor.start(job)
    assert wait_state(backend.executor, job.key, backend.finish_s).state is AttemptState.SUCCEEDED
    env = json.loads(seen.read_text())
    assert (env["SUANLI_JOB_ID"], env["SUANLI_ATTEMPT"], env["MY_SETTING"]) == (str(job.key.job_id), "1", "a=b c")
    if per_node:
        assert len(set(env["CUDA_VISIBLE_DEVICES"].split(","))) == per_node


HOSTILE = [
    "'; touch {marker}; '",
    '"; touch {marker}; "',
    "$(touch {marker})",
    "`touch {marker}`",
    "a;touch {marker}",
    "line1\nline2\n; touch {marker}",
    "$HOME ${{PATH}} * ~ \\ | > {marker}",
    "%j %u %x {{}} %s",
    "算力 ✓",
]


def test_hostile_strings_reach_the_job_unchanged_and_no_shell_runs_them(backend: Backend) -> None:
    marker = _shared(backend, "injected")
    seen = _shared(backend, "hostile.json")
    values = [text.format(marker=marker) for text in HOSTILE]
    script = (
        "import json, os, sys\n"
        "env = {k: v for k, v in os.environ.items() if k.startswith('HOSTILE_')}\n"
        "json.dump({'argv': sys.argv[2:], 'env': env}, open(sys.argv[1], 'w'))\n"
    )
    env = {f"HOSTILE_{i}": value for i, value in enumerate(values)}
    name = f"hostile '$(touch {marker})` ; \n x"
    job = _job(backend, script, str(seen), *values, env=env, name=name)
    backend.executor.start(job)
    assert wait_state(backend.executor, job.key, backend.finish_s).state is AttemptState.SUCCEEDED
    assert json.loads(seen.read_text()) == {"argv": values, "env": env}
    assert not marker.exists()


def test_cancel_stops_a_running_job(backend: Backend) -> None:
    started = _shared(backend, "started")
    ended = _shared(backend, "ended")
    script = (
        "import pathlib, sys, time\n"
        "pathlib.Path(sys.argv[1]).write_text('yes')\n"
        "time.sleep(60)\n"
        "pathlib.Path(sys.argv[2]).write_text('ran to the end')\n"
    )
    job = _job(backend, script, str(started), str(ended))
    backend.executor.start(job)
    wait_state(backend.executor, job.key, backend.finish_s, final=False, state=AttemptState.RUNNING)
    _wait_for(started, backend.finish_s)
    backend.executor.cancel(job.key, grace_s=1.0)
    status = wait_state(backend.executor, job.key, backend.finish_s)
    assert status.state is AttemptState.CANCELLED
    assert not ended.exists()


def test_a_gang_runs_one_rank_per_node_and_succeeds_only_if_all_do(backend: Backend) -> None:
    if backend.gang_nodes < 2:
        pytest.skip("this backend runs no gang of 2 here")
    script = (
        "import os, sys\n"
        "rank, size = os.environ['RANK'], os.environ['WORLD_SIZE']\n"
        "print(f'rank {rank} of {size}', flush=True)\n"
        "sys.exit(5 if rank == sys.argv[1] else 0)\n"
    )
    good = _job(backend, script, "none", nodes=2)
    backend.executor.start(good)
    assert wait_state(backend.executor, good.key, backend.finish_s).state is AttemptState.SUCCEEDED
    output = logs_of(backend.executor, good.key)
    assert b"rank 0 of 2" in output and b"rank 1 of 2" in output

    bad = _job(backend, script, "1", nodes=2)
    backend.executor.start(bad)
    status = wait_state(backend.executor, bad.key, backend.finish_s)
    assert status.state is AttemptState.FAILED


def test_an_impossible_request_is_refused_or_fails_saying_why(backend: Backend) -> None:
    job = _job(backend, "print('should not run')", accelerators_per_node=10_000)
    try:
        backend.executor.start(job)
    except ExecutorRefused as refused:
        assert str(refused)
        return
    status = wait_state(backend.executor, job.key, backend.finish_s)
    assert status.state is AttemptState.FAILED and status.message
    assert b"should not run" not in logs_of(backend.executor, job.key)


def test_an_attempt_is_started_once_and_forgotten_when_done(backend: Backend) -> None:
    counter = _shared(backend, "runs")
    job = _job(backend, "import sys; open(sys.argv[1], 'a').write('run\\n')", str(counter))
    backend.executor.start(job)
    backend.executor.start(job)  # a redelivered assignment: the same key is not started again
    assert wait_state(backend.executor, job.key, backend.finish_s).state is AttemptState.SUCCEEDED
    assert counter.read_text() == "run\n"
    backend.executor.forget(job.key)
    assert status_of(backend.executor, job.key) is None


def _wait_for(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:  # a guard against hanging, not a measurement
            pytest.fail(f"{path} was not written in {timeout_s} s")
        time.sleep(0.05)
