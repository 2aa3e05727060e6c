"""Stopping attempts: cancel kills the whole process tree (even processes that ignore SIGTERM)
without blocking the caller, and a time limit fails the attempt."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from suanli.agent.backends.local.executor import LocalExecutor
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState
from tests.integration.agent.conftest import MakeExecutor, is_dead, status_of, wait_dead, wait_final, wait_for_file

# A process tree: the job starts a child, which starts a grandchild. Each descendant ignores
# SIGTERM and writes its pid; the job waits for both pids, writes all three, and sleeps.
TREE = """
import os, signal, subprocess, sys, time
out, depth, job_ignores_term = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
if depth > 0 or job_ignores_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if depth < 2:
    subprocess.Popen([sys.executable, __file__, out, str(depth + 1), "0"])
if depth > 0:
    with open(f"{out}.{depth}", "w") as f:
        f.write(f"{os.getpid()}\\n")
else:
    paths = [f"{out}.1", f"{out}.2"]
    while not all(os.path.exists(p) and open(p).read().endswith("\\n") for p in paths):
        time.sleep(0.01)
    pids = [str(os.getpid())] + [open(p).read().strip() for p in paths]
    with open(out, "w") as f:
        f.write(" ".join(pids) + "\\n")
time.sleep(60)
"""


def start_tree(
    make_executor: MakeExecutor, tmp_path: Path, job_ignores_term: bool
) -> tuple[LocalExecutor, AttemptKey, list[int]]:
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    executor = make_executor()
    key = AttemptKey(20, 1)
    pids_file = tmp_path / "pids"
    command = (sys.executable, str(script), str(pids_file), "0", "1" if job_ignores_term else "0")
    executor.start(AttemptSpec(key=key, name="tree", command=command))
    pids = [int(pid) for pid in wait_for_file(pids_file).split()]
    assert len(pids) == 3 and not any(is_dead(pid) for pid in pids)
    return executor, key, pids


@pytest.mark.parametrize("job_ignores_term", [False, True], ids=["job-obeys-term", "job-ignores-term"])
def test_cancel_kills_the_whole_tree_and_reports_cancelled(
    make_executor: MakeExecutor, tmp_path: Path, job_ignores_term: bool
) -> None:
    executor, key, pids = start_tree(make_executor, tmp_path, job_ignores_term)

    executor.cancel(key, grace_s=3)
    if job_ignores_term:
        # The grace period, which ends in SIGKILL, is not spent in the caller: when cancel returns,
        # the whole tree, which ignores SIGTERM, still runs (a grace period far longer than
        # cancel's own work, so that a busy machine cannot decide this by timing). A job that
        # obeys SIGTERM exits at once, and what it leaves behind is killed with it.
        assert not any(is_dead(pid) for pid in pids)

    status = wait_final(executor, key, timeout_s=30)
    assert status.state is AttemptState.CANCELLED and status.message == "cancelled"
    assert all(wait_dead(pid, timeout_s=30) for pid in pids), [pid for pid in pids if not is_dead(pid)]


def test_the_kill_after_the_grace_period_needs_no_poll(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor, key, pids = start_tree(make_executor, tmp_path, job_ignores_term=True)
    executor.cancel(key, grace_s=2)
    time.sleep(0.1)
    assert not any(is_dead(pid) for pid in pids)  # all of them ignore SIGTERM
    assert all(wait_dead(pid, timeout_s=30) for pid in pids)  # nobody polled: the timer killed them
    assert wait_final(executor, key, timeout_s=30).state is AttemptState.CANCELLED


def test_what_a_job_leaves_behind_is_killed_when_it_exits(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    pid_file = tmp_path / "orphan"
    orphan_code = f"import os, time; open({str(pid_file)!r}, 'w').write(f'{{os.getpid()}}\\n'); time.sleep(60)"
    leave_orphan = (
        "import os, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {orphan_code!r}])\n"
        f"p = {str(pid_file)!r}\n"
        "while not (os.path.exists(p) and open(p).read().endswith(chr(10))): time.sleep(0.01)\n"
    )
    key = AttemptKey(21, 1)
    executor.start(AttemptSpec(key=key, name="orphan", command=(sys.executable, "-c", leave_orphan)))
    orphan = int(wait_for_file(pid_file))
    assert wait_final(executor, key).state is AttemptState.SUCCEEDED
    assert wait_dead(orphan)


def test_cancelling_a_finished_or_unknown_attempt_changes_nothing(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    key = AttemptKey(22, 1)
    executor.start(AttemptSpec(key=key, name="quick", command=(sys.executable, "-c", "pass")))
    time.sleep(0.3)
    executor.cancel(key, grace_s=0.1)  # it already exited: it succeeded, it was not cancelled
    assert wait_final(executor, key).state is AttemptState.SUCCEEDED
    executor.cancel(key)
    executor.cancel(AttemptKey(999, 1))
    assert status_of(executor, key).state is AttemptState.SUCCEEDED


def test_a_time_limit_fails_the_attempt(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor(stop_grace_s=0.5)
    key = AttemptKey(23, 1)
    command = ("/bin/sh", "-c", "echo working; exec sleep 60")  # no interpreter to start within the limit
    executor.start(AttemptSpec(key=key, name="slow", command=command, time_limit_s=0.3))
    assert status_of(executor, key).state is AttemptState.RUNNING
    status = wait_final(executor, key, timeout_s=3)
    assert status.state is AttemptState.FAILED
    assert status.message == "time limit of 0.3s exceeded"
    assert status.exit_code == -15
    assert executor.read_logs(key, 0) == b"working\n"
