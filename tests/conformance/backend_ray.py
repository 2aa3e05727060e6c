"""The Ray executor against the Ray lab (scripts/lab/ray-up.sh) for the conformance suite.

The lab is one loopback Ray head with 2 CPUs and 4 declared GPUs; the agent side and the jobs
share this machine, so the jobs can write into the test's folder. Set SUANLI_RAY_ADDRESS to test
another cluster (its jobs must see this machine's /tmp for the file checks)."""

from __future__ import annotations

import os
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conformance.harness import Backend

NAME = "ray"
ADDRESS = os.environ.get("SUANLI_RAY_ADDRESS", "http://127.0.0.1:8265")


def unavailable() -> str | None:
    try:
        import ray.job_submission  # noqa: F401
    except ImportError:
        return "ray is not installed (pip install 'suanli[ray]')"
    try:
        with urllib.request.urlopen(f"{ADDRESS}/api/version", timeout=2) as answer:
            if answer.status == 200:
                return None
    except OSError:
        pass
    return f"no Ray lab answers at {ADDRESS} (start it: bash scripts/lab/ray-up.sh)"


@contextmanager
def backend(tmp_path: Path) -> Iterator[Backend]:
    from suanli.agent.backends.ray.executor import RayExecutor

    # A prefix per test: jobs of other tests (or other runs) on the same lab are never adopted.
    executor = RayExecutor(
        ADDRESS,
        models={"GPU": "A100-80G"},
        job_prefix=f"suanli-test-{uuid.uuid4().hex[:8]}",
        gang_strategy="SPREAD",  # the lab is one node: a gang's ranks share it
        python=sys.executable,
        min_poll_interval_s=0.1,
        log_refresh_s=0.5,
        stop_on_close=True,
    )
    pool = next(p for p in executor.pools() if p.accelerator == "A100-80G")
    try:
        yield Backend(
            executor=executor,
            pool=pool.name,
            accelerator="A100-80G",
            gang_nodes=2,
            finish_s=90.0,
            python=sys.executable,
            shared_dir=tmp_path,
        )
    finally:
        executor.close()
