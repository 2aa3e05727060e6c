"""Local attempts outlive their agent: one LocalExecutor runs in a subprocess that is killed -9
(the agent's death); a new LocalExecutor on the same work root adopts what it left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.backends.local.executor import LocalExecutor
from suanli.agent.backends.local.state import AttemptRecord, StateFolder
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, Recovering
from tests.integration.agent.conftest import MakeExecutor, is_dead, status_of, wait_dead, wait_final, wait_for_file

OWNER, OTHER = "center-a", "center-b"

# The dying agent: starts the attempts it is given, then polls like an agent until killed.
AGENT = """
import json, sys, time
from pathlib import Path
from suanli.agent.executor import AttemptKey, AttemptSpec
from suanli.agent.backends.local.executor import LocalExecutor
root, specs = Path(sys.argv[1]), json.loads(sys.argv[2])
executor = LocalExecutor(root, declared="A100-80G:4", stop_grace_s=1.0)
for s in specs:
    command = tuple(s["command"]) if isinstance(s["command"], list) else s["command"]
    key = AttemptKey(s["job"], 1)
    executor.start(AttemptSpec(key=key, name=f"job-{s['job']}", command=command, accelerator="A100-80G",
                               accelerators_per_node=s.get("devices", 0), nodes=s.get("nodes", 1),
                               time_limit_s=s.get("limit"), owner=s.get("owner", "center-a")))
for s in specs:
    if s.get("cancel") is not None:  # once the job is ready for it (it wrote this file)
        while not (Path(s["after"]).exists() and Path(s["after"]).read_text().endswith("\\n")):
            time.sleep(0.01)
        executor.cancel(AttemptKey(s["job"], 1), grace_s=s["cancel"])
print("started", flush=True)
while True:
    executor.poll()
    time.sleep(0.05)
"""


def waiting_job(go: Path, before: str, after: str) -> list[str]:
    """Prints ``before``, waits (at most 30 s) for ``go``, prints ``after``."""
    script = (
        f"import os, time\nprint({before!r}, flush=True)\ndeadline = time.monotonic() + 30\n"
        f"while not os.path.exists({str(go)!r}) and time.monotonic() < deadline: time.sleep(0.02)\n"
        f"print({after!r}, flush=True)\n"
    )
    return [sys.executable, "-c", script]


def pid_job(pid_file: Path, ignore_term: bool = False) -> list[str]:
    script = (
        "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_term else ""
    ) + f"import os, time\nopen({str(pid_file)!r}, 'w').write(f'{{os.getpid()}}\\n')\ntime.sleep(60)\n"
    return [sys.executable, "-c", script]


class DyingAgent:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.process: subprocess.Popen[str] | None = None

    def start(self, specs: list[dict[str, Any]]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", AGENT, str(self.root), json.dumps(specs)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "started\n"

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def dying(tmp_path: Path) -> Iterator[DyingAgent]:
    agent = DyingAgent(tmp_path / "work")
    yield agent
    if agent.process is not None and agent.process.poll() is None:
        agent.kill9()
    for owner in (OWNER, OTHER):  # whatever a failed test left behind: adopt it and kill it
        with LocalExecutor(agent.root, declared="A100-80G:4", stop_grace_s=0.1) as sweeper:
            sweeper.recover(owner)


def ended(root: Path, job: int) -> bool:
    return bool(StateFolder.of(root, AttemptKey(job, 1)).exits())


def wait_until(check: Any, what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:  # a guard against hanging, not a measurement
            pytest.fail(f"{what} did not happen")
        time.sleep(0.02)


def test_a_new_executor_adopts_running_and_ended_attempts_of_its_owner_only(
    dying: DyingAgent, make_executor: MakeExecutor, tmp_path: Path
) -> None:
    go, pids = tmp_path / "go", tmp_path / "pid"
    dying.start(
        [
            {"job": 1, "command": waiting_job(go, "first half", "second half"), "devices": 1},
            {"job": 2, "command": "echo quick", "devices": 0},
            {"job": 3, "command": "echo failing; exit 3", "devices": 0},
            {"job": 4, "command": waiting_job(go, "before", "after"), "devices": 1, "nodes": 2},
            {"job": 5, "command": pid_job(Path(f"{pids}.5")), "devices": 1},
            {"job": 6, "command": pid_job(Path(f"{pids}.6")), "owner": OTHER},
        ]
    )
    root = dying.root
    gang_log = root / "logs" / "4-1.log"
    wait_until(lambda: ended(root, 2) and ended(root, 3), "the quick jobs' ends")
    wait_until(lambda: gang_log.exists() and gang_log.read_text().count("before") == 2, "the gang's first lines")
    victim, foreign = int(wait_for_file(Path(f"{pids}.5"))), int(wait_for_file(Path(f"{pids}.6")))

    dying.kill9()
    executor = make_executor(declared="A100-80G:4")
    assert isinstance(executor, Recovering)
    adopted = executor.recover(OWNER)

    assert sorted(adopted) == [AttemptKey(job, 1) for job in (1, 2, 3, 4, 5)]
    assert executor.recover(OWNER) == []  # known now: not taken twice
    states = {s.key.job_id: (s.state, s.exit_code) for s in executor.poll()}
    assert states == {
        1: (AttemptState.RUNNING, None),
        2: (AttemptState.SUCCEEDED, 0),
        3: (AttemptState.FAILED, 3),
        4: (AttemptState.RUNNING, None),
        5: (AttemptState.RUNNING, None),
    }
    assert status_of(executor, AttemptKey(3, 1)).message == "exited with code 3"
    assert executor.free_devices() == {"declared-a100-80g": []}  # 1 + 2 + 1 held by the adopted ones
    assert executor.read_logs(AttemptKey(2, 1), 0) == b"quick\n"

    go.touch()
    assert wait_final(executor, AttemptKey(1, 1)).state is AttemptState.SUCCEEDED
    assert executor.read_logs(AttemptKey(1, 1), 0) == b"first half\nsecond half\n"
    gang = wait_final(executor, AttemptKey(4, 1))
    assert (gang.state, gang.exit_code) == (AttemptState.SUCCEEDED, 0)
    lines = sorted(executor.read_logs(AttemptKey(4, 1), 0).decode().splitlines())
    assert lines == ["[rank 0] after", "[rank 0] before", "[rank 1] after", "[rank 1] before"]  # none twice

    executor.cancel(AttemptKey(5, 1), grace_s=0.5)
    assert wait_final(executor, AttemptKey(5, 1)).state is AttemptState.CANCELLED
    assert wait_dead(victim)
    assert executor.free_devices() == {"declared-a100-80g": [0, 1, 2, 3]}

    assert not is_dead(foreign)  # another owner's attempt: not adopted, not touched
    other = StateFolder.of(root, AttemptKey(6, 1))
    assert other.path.is_dir() and AttemptKey(6, 1) not in {s.key for s in executor.poll()}
    executor.forget(AttemptKey(2, 1))
    assert not StateFolder.of(root, AttemptKey(2, 1)).path.exists()
    with make_executor(declared="A100-80G:4") as theirs:
        assert theirs.recover(OTHER) == [AttemptKey(6, 1)]
    assert wait_dead(foreign)  # closing their executor stopped it


def test_a_stop_asked_before_the_agent_died_ends_as_asked_under_the_next(
    dying: DyingAgent, make_executor: MakeExecutor, tmp_path: Path
) -> None:
    pids = tmp_path / "pid"
    dying.start(
        [
            {"job": 7, "command": pid_job(Path(f"{pids}.7"), True), "cancel": 1.5, "after": f"{pids}.7"},
            {"job": 8, "command": pid_job(Path(f"{pids}.8")), "limit": 2.0},
        ]
    )
    cancelled = int(wait_for_file(Path(f"{pids}.7")))
    wait_for_file(Path(f"{pids}.8"))
    dying.kill9()
    executor = make_executor(declared="A100-80G:4")
    executor.recover(OWNER)

    status = wait_final(executor, AttemptKey(7, 1))
    assert (status.state, status.message) == (AttemptState.CANCELLED, "cancelled")
    assert wait_dead(cancelled)
    status = wait_final(executor, AttemptKey(8, 1))  # the time limit counts from the first start
    assert (status.state, status.message) == (AttemptState.FAILED, "time limit of 2s exceeded")


def test_an_attempt_whose_agent_died_before_its_supervisor_started_is_not_adopted(
    make_executor: MakeExecutor, tmp_path: Path
) -> None:
    record = AttemptRecord(9, 1, OWNER, "torn", ["true"], "declared-a100-80g", "A100-80G", 1, 1, [0], time.time(), None)
    folder = StateFolder.of(tmp_path / "work", record.key)
    folder.create(record, {"ranks": [], "user": None})
    executor = make_executor(declared="A100-80G:4")

    assert executor.recover(OWNER) == []

    assert not folder.path.exists()  # nothing ran: the server hands the attempt out again
    assert executor.free_devices() == {"declared-a100-80g": [0, 1, 2, 3]}


def test_state_folders_are_private(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    key = AttemptKey(10, 1)
    executor.start(AttemptSpec(key=key, name="x", command="true", owner=OWNER))
    wait_final(executor, key)
    root = tmp_path / "work"
    for path in (root, root / "logs", root / "attempts", StateFolder.of(root, key).path):
        assert oct(path.stat().st_mode & 0o777) == oct(0o700), path
    assert os.stat(StateFolder.of(root, key).path / "attempt.json").st_mode & 0o077 == 0  # the job's env is in it


def launchers() -> list[int]:
    """This test process's children that are launchers of supervisors."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"local_supervisor" in cmdline and fields[0] not in "ZX":
            found.append(int(stat.parent.name))
    return found


def test_supervisors_outlive_their_launcher_and_a_dead_launcher_is_replaced(
    make_executor: MakeExecutor, tmp_path: Path
) -> None:
    executor = make_executor()
    go = tmp_path / "go"
    first = AttemptSpec(key=AttemptKey(11, 1), name="a", command=tuple(waiting_job(go, "one", "two")), owner=OWNER)
    executor.start(first)
    (launcher,) = launchers()

    os.kill(launcher, signal.SIGKILL)
    assert wait_dead(launcher)
    go.touch()

    assert wait_final(executor, first.key).state is AttemptState.SUCCEEDED  # its supervisor ran on
    assert executor.read_logs(first.key, 0) == b"one\ntwo\n"
    second = AttemptSpec(key=AttemptKey(12, 1), name="b", command="echo again", owner=OWNER)
    executor.start(second)
    assert wait_final(executor, second.key).state is AttemptState.SUCCEEDED
    assert launchers() != [launcher] and len(launchers()) == 1
