"""The local executor (processes on this machine) for the conformance suite."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from suanli.agent.backends.local.executor import LocalExecutor
from tests.conformance.harness import Backend

NAME = "local"


def unavailable() -> str | None:
    return None


@contextmanager
def backend(tmp_path: Path) -> Iterator[Backend]:
    executor = LocalExecutor(tmp_path / "work", declared="A100-80G:4", stop_grace_s=1.0)
    try:
        yield Backend(
            executor=executor,
            pool=executor.pools()[0].name,
            accelerator="A100-80G",
            gang_nodes=2,
            finish_s=10.0,
            python=sys.executable,
            shared_dir=tmp_path,
        )
    finally:
        executor.close()
