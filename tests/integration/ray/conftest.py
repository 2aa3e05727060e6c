"""The Ray lab for these tests: scripts/lab/ray-up.sh (skipped, saying so, when it is not running)."""

from __future__ import annotations

import os
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ADDRESS = os.environ.get("SUANLI_RAY_ADDRESS", "http://127.0.0.1:8265")


def lab_unavailable(address: str = ADDRESS) -> str | None:
    try:
        import ray.job_submission  # noqa: F401
    except ImportError:
        return "ray is not installed (pip install 'suanli[ray]')"
    try:
        with urllib.request.urlopen(f"{address}/api/version", timeout=2) as answer:
            if answer.status == 200:
                return None
    except OSError:
        pass
    return f"no Ray lab answers at {address} (start it: bash scripts/lab/ray-up.sh)"


@pytest.fixture
def make_executor() -> Iterator[Callable[..., Any]]:
    """Executors against the lab, each with its own job prefix unless given; closed (their
    attempts stopped) at the end."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    from suanli.agent.ray_executor import RayExecutor

    made: list[RayExecutor] = []

    def make(**options: Any) -> RayExecutor:
        options.setdefault("models", {"GPU": "A100-80G"})
        options.setdefault("job_prefix", f"suanli-it-{uuid.uuid4().hex[:8]}")
        options.setdefault("python", sys.executable)
        options.setdefault("min_poll_interval_s", 0.0)
        options.setdefault("log_refresh_s", 0.2)
        options.setdefault("stop_on_close", True)
        executor = RayExecutor(options.pop("address", ADDRESS), **options)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.close()
