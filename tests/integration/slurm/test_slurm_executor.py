"""The Slurm executor against the real lab: what the conformance suite does not cover."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from suanli.agent.backends.slurm.executor import SlurmExecutor
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, ExecutorRefused
from tests.conformance.harness import logs_of, status_of, wait_state
from tests.integration.slurm.conftest import CallCounter, slurm, wait_until

FINISH_S = 60.0


def _job(script: str, *args: str, **fields: object) -> AttemptSpec:
    job_id = uuid.uuid4().int % 10**9 + 1
    fields.setdefault("pool", "debug")
    fields.setdefault("accelerator", "A100-80G")
    fields.setdefault("name", f"slurm-test-{job_id}")
    return AttemptSpec(key=AttemptKey(job_id, 1), command=(sys.executable, "-c", script, *args), **fields)  # type: ignore[arg-type]


def test_pools_come_from_sinfo(executor: SlurmExecutor) -> None:
    nodes = slurm("sinfo", "-h", "-N", "-p", "debug", "-o", "%N %G").stdout.split("\n")
    nodes = [line for line in nodes if line.strip()]
    pools = {pool.name: pool for pool in executor.pools()}
    assert set(pools) == {"debug"}
    pool = pools["debug"]
    assert (pool.accelerator, pool.accelerators_per_node, pool.nodes) == ("A100-80G", 4, len(nodes))
    assert pool.cpus_per_node == 2 and pool.memory_gb_per_node > 1
    assert executor.healthy() is None


def test_untyped_gpus_need_a_declared_model(lab: Path, tmp_path: Path) -> None:
    from tests.conformance.backend_slurm import slurm_conf

    bare = SlurmExecutor(tmp_path, slurm_conf=slurm_conf())
    with pytest.raises(ValueError, match="gpu-model"):
        bare.pools()


def test_hostile_job_name_and_export_breaking_values_reach_slurm_and_the_job_unchanged(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "injected"
    seen = tmp_path / "seen.json"
    env = {
        "COMMA": "a,b=c,ALL,NONE",
        "EXPORT_LIKE": "--export=NONE,X=1",
        "QUOTES": f"'\"$(touch {marker})`touch {marker}`",
        "NEWLINES": "one\ntwo\n",
        "SBATCH_PARTITION": "nosuch",  # sbatch reads SBATCH_* from its own env, never from the job's
    }
    name = f"n,a,m,e '$(touch {marker})` ; \n\t x %j %x"
    script = (
        "import json, os, sys\n"
        "keys = sys.argv[2].split('+')\n"
        "json.dump({k: os.environ.get(k) for k in keys}, open(sys.argv[1], 'w'))\n"
    )
    job = _job(script, str(seen), "+".join(env), env=env, name=name)
    executor.start(job)
    wait_state(executor, job.key, FINISH_S, state=AttemptState.RUNNING, final=True)
    slurm_id = executor.slurm_job_id(job.key)
    assert slurm_id is not None
    in_slurm = slurm("squeue", "-h", "--states=all", "-j", slurm_id, "-o", "%j").stdout.rstrip("\n")
    assert in_slurm == name.replace("\n", " ").replace("\t", " ")  # control characters become spaces
    status = wait_state(executor, job.key, FINISH_S)
    assert status.state is AttemptState.SUCCEEDED, logs_of(executor, job.key)
    assert json.loads(seen.read_text()) == env
    assert not marker.exists()


def test_one_squeue_call_per_poll_whatever_the_number_of_attempts(executor: SlurmExecutor) -> None:
    counter = CallCounter(executor.runner)
    executor.runner = counter
    jobs = [_job("import time; time.sleep(120)") for _ in range(30)]
    for job in jobs:
        executor.start(job)
    assert counter.calls.count("sbatch") == 30
    counter.calls.clear()
    for _ in range(5):
        statuses = executor.poll()
        assert len(statuses) == 30 and not any(s.state.is_final for s in statuses)
    assert counter.calls == ["squeue"] * 5
    for job in jobs:
        executor.cancel(job.key, grace_s=1)
    counter.calls.clear()
    wait_until(lambda: all(s.state.is_final for s in executor.poll()), FINISH_S, "all cancelled")
    assert {s.state for s in executor.poll()} == {AttemptState.CANCELLED}
    assert set(counter.calls) <= {"squeue", "scancel"}


def test_polls_are_throttled_to_the_interval(executor: SlurmExecutor) -> None:
    executor.poll_interval_s = 3600
    executor.pools()  # the first start asks sinfo which partition a pool is
    counter = CallCounter(executor.runner)
    executor.runner = counter
    job = _job("import time; time.sleep(120)")
    executor.start(job)
    for _ in range(20):
        executor.poll()
    assert counter.calls == ["sbatch", "squeue"]
    executor.cancel(job.key, grace_s=1)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"pool": "nosuch"}, "invalid partition"),
        ({"accelerators_per_node": 64}, "Requested node configuration is not available"),
        ({"nodes": 9}, "PartitionConfig"),  # accepted by sbatch, but it would pend forever
    ],
    ids=["unknown-partition", "too-many-gpus", "too-many-nodes"],
)
def test_a_job_slurm_rejects_fails_with_slurms_message(
    executor: SlurmExecutor, fields: dict[str, object], says: str
) -> None:
    job = _job("print('should not run')", **fields)
    executor.start(job)
    status = wait_state(executor, job.key, FINISH_S)
    assert status.state is AttemptState.FAILED
    assert says.lower() in status.message.lower()
    output = logs_of(executor, job.key)
    assert says.lower().encode() in output.lower() and b"should not run" not in output


def test_an_sbatch_that_times_out_is_found_in_the_queue_not_submitted_twice(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    real = executor.runner

    def slow_sbatch(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        result = real(argv, timeout_s)
        if argv[0] == "sbatch":
            raise subprocess.TimeoutExpired(list(argv), timeout_s)  # it was queued, but we never heard
        return result

    executor.runner = slow_sbatch
    runs = tmp_path / "runs"
    job = _job("import sys; open(sys.argv[1], 'a').write('run\\n')", str(runs))
    executor.start(job)
    assert executor.slurm_job_id(job.key) is None and executor.healthy()
    status = wait_state(executor, job.key, FINISH_S)
    assert status.state is AttemptState.SUCCEEDED
    assert executor.slurm_job_id(job.key) is not None and runs.read_text() == "run\n"


# -- the agent goes away ---------------------------------------------------------------------------


def test_a_restarted_agent_takes_over_its_own_jobs_and_leaves_other_centers_alone(lab: Path, tmp_path: Path) -> None:
    from tests.conformance.backend_slurm import make_executor

    work = tmp_path / "work"  # shared by two centers' agents, the worst case
    first = make_executor(work, poll_interval_s=0.0)
    mine = _job("import time; time.sleep(3); print('finished by the new agent')", owner="center-a")
    theirs = _job("import time; time.sleep(3)", owner="center-b")
    for job in (mine, theirs):
        first.start(job)
    wait_state(first, mine.key, FINISH_S, final=False, state=AttemptState.RUNNING)
    # The agent dies (kill -9): its executor is gone without close(); the jobs run on in Slurm.
    second = make_executor(work, poll_interval_s=0.0)
    try:
        assert second.recover("center-a") == [mine.key]
        assert second.recover("center-a") == []  # already known: not taken twice
        assert second.recover("") == []
        done = wait_state(second, mine.key, FINISH_S)
        assert done.state is AttemptState.SUCCEEDED and done.exit_code == 0
        assert b"finished by the new agent" in logs_of(second, mine.key)
        assert status_of(second, theirs.key) is None  # never taken, never cancelled
        assert wait_state(first, theirs.key, FINISH_S).state is AttemptState.SUCCEEDED
    finally:
        second.close()
        first.close()


def test_the_agent_reports_what_it_took_over_in_its_first_hello_and_then_its_end(lab: Path, tmp_path: Path) -> None:
    import threading

    from suanli.agent.executor import owner_tag
    from suanli.agent.runner import Agent
    from tests.conformance.backend_slurm import make_executor
    from tests.integration.agent.test_runner import ScriptedServer

    work = tmp_path / "work"
    before = make_executor(work, poll_interval_s=0.0)
    job = _job("import time; time.sleep(2)", owner=owner_tag("center-token"))
    before.start(job)
    wait_state(before, job.key, FINISH_S, final=False, state=AttemptState.RUNNING)
    server = ScriptedServer("center-token")  # the same center's token: the same owner
    agent = Agent(server, make_executor(work, poll_interval_s=0.0), poll_s=0.05, max_backoff_s=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: bool(server.hellos), 20, "the first hello")
        assert server.hellos[0] == [job.key]  # the server keeps it rather than declaring it lost
        wait_until(lambda: (job.key, "SUCCEEDED", 0) in server.reports, FINISH_S, "the end reported")
    finally:
        stop.set()
        thread.join(10)
        agent.executor.close()
        before.close()


def test_a_job_survives_its_agent_being_killed_and_finishes_under_the_next_one(lab: Path, tmp_path: Path) -> None:
    """End to end: a real server and real `suanli agent --backend slurm` processes."""
    from suanli.client import SuanliClient
    from tests.conformance.backend_slurm import GPU_MODEL, slurm_conf
    from tests.integration.agent_e2e.conftest import Cluster
    from tests.servers import start_server

    # The next agent says hello well within agent_offline_after_s, as a supervisor restart does.
    server = start_server(tmp_path / "server", agent_offline_after_s="30", agent_heartbeat_s="0.5")
    cluster = Cluster(server, SuanliClient(server.url, token=server.token, timeout=30), tmp_path)
    options = ("--backend", "slurm", "--gpu-model", GPU_MODEL)
    env = {"SLURM_CONF": slurm_conf()}
    try:
        token = cluster.add_center("hpc")
        first = cluster.start_agent("hpc", token, backend=options, extra_env=env, timeout_s=30)
        script = "import time; time.sleep(5); print('finished after the agent died')"
        job = cluster.client.submit(
            {"name": "long", "command": [sys.executable, "-c", script], "resources": {"accelerators": f"{GPU_MODEL}:1"}}
        )
        cluster.wait_status(job.id, "RUNNING", timeout=30)
        first.kill9()
        second = cluster.start_agent("hpc", token, backend=options, extra_env=env, timeout_s=30)
        done = cluster.wait_status(job.id, "SUCCEEDED", "FAILED", "CANCELLED", timeout=60)
        assert (done.status, done.attempts) == ("SUCCEEDED", 1), done.message
        assert [a.state for a in cluster.client.job_attempts(job.id)] == ["SUCCEEDED"]
        assert "took over 1 attempt" in second.output()
    finally:
        cluster.close()


# -- the controller goes away --------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # stopped daemons linger as zombies here


def _stop_slurmctld(lab: Path) -> None:
    pid = int((lab / "slurmctld.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not _alive(pid), 30, "slurmctld stopping")


def _start_slurmctld() -> None:
    from tests.conformance.backend_slurm import slurm_conf

    subprocess.run(["slurmctld"], env={**os.environ, "SLURM_CONF": slurm_conf()}, check=True, timeout=30)
    wait_until(lambda: slurm("sinfo", "-h").returncode == 0, 60, "slurmctld answering")


@pytest.mark.skipif(
    os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") != "1",
    reason="stops the lab's slurmctld, which tests on other workers use: runs in a serial pytest run (.ci/run)",
)
def test_slurmctld_down_mid_job_keeps_the_attempt_and_reports_its_outcome_once_it_returns(
    executor: SlurmExecutor, lab: Path, tmp_path: Path
) -> None:
    go, started = tmp_path / "go", tmp_path / "started"
    script = (
        "import os, pathlib, sys, time\n"
        "pathlib.Path(sys.argv[2]).write_text('yes')\n"
        "while not os.path.exists(sys.argv[1]): time.sleep(0.1)\n"
        "print('ending with 3', flush=True)\n"
        "sys.exit(3)\n"
    )
    job = _job(script, str(go), str(started))
    executor.start(job)
    wait_state(executor, job.key, FINISH_S, final=False, state=AttemptState.RUNNING)
    wait_until(started.exists, FINISH_S, "the job starting")
    executor.command_timeout_s = 5.0  # a stuck or absent controller must not hold a poll long
    seen: list[AttemptState] = []
    _stop_slurmctld(lab)
    try:
        for _ in range(3):
            statuses = executor.poll()
            assert [s.key for s in statuses] == [job.key]
            seen.append(statuses[0].state)
        assert executor.healthy() is not None and "squeue" in (executor.healthy() or "")
        go.write_text("go")  # the job ends while nobody can tell Slurm's controller
        with pytest.raises(ExecutorRefused, match="not taking jobs"):
            executor.start(_job("print('not now')"))
        for _ in range(3):
            statuses = executor.poll()
            assert [s.key for s in statuses] == [job.key]
            seen.append(statuses[0].state)
    finally:
        _start_slurmctld()
    while True:
        statuses = executor.poll()
        assert [s.key for s in statuses] == [job.key]
        seen.append(statuses[0].state)
        if statuses[0].state.is_final:
            break
        assert len(seen) < 2000, "the job's outcome never came back"
        time.sleep(0.1)
    final = status_of(executor, job.key)
    assert final is not None and (final.state, final.exit_code) == (AttemptState.FAILED, 3)
    assert set(seen[:-1]) == {AttemptState.RUNNING} and seen[-1] is AttemptState.FAILED
    assert executor.healthy() is None
    assert b"ending with 3" in logs_of(executor, job.key)
    # Later polls keep the same, single outcome.
    assert executor.poll() == [final]
