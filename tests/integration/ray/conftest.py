"""The Ray lab for these tests: scripts/lab/ray-up.sh (skipped, saying so, when it is not running)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conformance.backend_ray import ADDRESS
from tests.conformance.backend_ray import unavailable as lab_unavailable


@pytest.fixture
def make_executor() -> Iterator[Callable[..., Any]]:
    """Executors against the lab, each with its own job prefix unless given; closed (their
    attempts stopped) at the end."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    from suanli.agent.backends.ray.executor import RayExecutor

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
