"""Real processes under a real LocalExecutor in tmp_path; every executor is closed (its
processes killed) when the test ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.backends.local.executor import LocalExecutor
from suanli.agent.executor import AttemptKey, AttemptStatus, Executor

MakeExecutor = Callable[..., LocalExecutor]


@pytest.fixture
def make_executor(tmp_path: Path) -> Iterator[MakeExecutor]:
    made: list[LocalExecutor] = []

    def make(**kwargs: Any) -> LocalExecutor:
        kwargs.setdefault("stop_grace_s", 1.0)
        executor = LocalExecutor(tmp_path / "work", **kwargs)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.close()


def status_of(executor: Executor, key: AttemptKey) -> AttemptStatus:
    (status,) = [s for s in executor.poll() if s.key == key]
    return status


def wait_final(executor: Executor, key: AttemptKey, timeout_s: float = 5.0) -> AttemptStatus:
    deadline = time.monotonic() + timeout_s
    while True:
        status = status_of(executor, key)
        if status.state.is_final:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} still {status.state} after {timeout_s}s")
        time.sleep(0.02)


def wait_for_file(path: Path, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text().endswith("\n")):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} was not written")
        time.sleep(0.01)
    return path.read_text()


def is_dead(pid: int) -> bool:
    """Gone, or a zombie: orphans re-parented to a PID 1 that never reaps stay as zombies."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_dead(pid: int, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not is_dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
