"""What the executor conformance suite needs from a backend.

Each backend module ``backend_<name>.py`` in this folder provides:

- ``NAME``: the backend's name, shown in test ids;
- ``unavailable() -> str | None``: why the backend cannot run here (its tests are skipped with
  that reason), or None;
- ``backend(tmp_path) -> ContextManager[Backend]``: a fresh executor against the real backend,
  closed (its attempts stopped) on exit.

The suite (test_conformance.py) runs every test unchanged against every backend.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from suanli.agent.executor import AttemptKey, AttemptState, AttemptStatus, Executor


@dataclass(frozen=True)
class Backend:
    executor: Executor
    pool: str  # a pool this backend offers, with ``accelerators_per_node`` >= 2 (or CPU slots)
    accelerator: str  # the pool's accelerator model ("CPU" for CPU slots)
    gang_nodes: int  # the largest gang the backend can run here; gang tests need 2
    finish_s: float  # how long a trivial job may take to end here (Ray takes seconds)
    python: str = "python3"  # a Python that the backend's jobs can run
    shared_dir: Path | None = None  # a folder both the test and the backend's jobs can write


class BackendModule(Protocol):
    NAME: str

    def unavailable(self) -> str | None: ...

    def backend(self, tmp_path: Path) -> AbstractContextManager[Backend]: ...


def status_of(executor: Executor, key: AttemptKey) -> AttemptStatus | None:
    return next((s for s in executor.poll() if s.key == key), None)


def wait_state(
    executor: Executor, key: AttemptKey, timeout_s: float, *, final: bool = True, state: AttemptState | None = None
) -> AttemptStatus:
    """Polls until the attempt is final (or in ``state``); fails the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: AttemptStatus | None = None
    while True:
        last = status_of(executor, key)
        if last is not None and ((state is not None and last.state is state) or (final and last.state.is_final)):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} is {last.state if last else 'unknown'} after {timeout_s} s")
        time.sleep(0.05)


def logs_of(executor: Executor, key: AttemptKey) -> bytes:
    """The attempt's whole output, read in chunks as the agent does."""
    out = b""
    while chunk := executor.read_logs(key, len(out), 4096):
        out += chunk
    return out
