"""Slurm-specific tests against the real lab (scripts/lab/slurm-up.sh); skipped without it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from suanli.agent.backends.slurm.executor import SlurmExecutor
from tests.conformance.backend_slurm import LAB, make_executor, slurm_conf, unavailable


@pytest.fixture(scope="session")
def lab() -> Path:
    reason = unavailable()
    if reason:
        pytest.skip(f"slurm lab: {reason}")
    return LAB


@pytest.fixture
def executor(lab: Path, tmp_path: Path) -> Iterator[SlurmExecutor]:
    made = make_executor(tmp_path / "work", poll_interval_s=0.0)
    try:
        yield made
    finally:
        made.close()


def slurm(*argv: str, timeout_s: float = 20) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLURM_CONF": slurm_conf()}
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout_s, check=False)


class CallCounter:
    """Wraps an executor's runner: records every Slurm tool it runs (Slurm itself is real)."""

    def __init__(self, runner: Callable[[Sequence[str], float], subprocess.CompletedProcess[str]]) -> None:
        self.runner = runner
        self.calls: list[str] = []

    def __call__(self, argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv[0])
        return self.runner(argv, timeout_s)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:  # a guard against hanging, not a measurement
            pytest.fail(f"{what} did not happen in {timeout_s} s")
        time.sleep(0.1)
