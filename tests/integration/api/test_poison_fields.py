"""No accepted value can stop the scheduler: for every field of a job, its smallest and largest
accepted values are submitted beside ordinary jobs, and every cycle goes on placing the ordinary
ones. Each extreme job is placed or waits with reasons; none errors.

Accepted means what the API takes (a 201): a value the API refuses is not a poison. The table
below must name every field of a job, so a new field cannot slip past it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container
from suanli.domain import limits
from suanli.domain.jobs import Constraints, JobSpec, Resources
from tests.integration.api.conftest import API, center, job, pool

A = "A100"
ARGUMENT = "x" * limits.MAX_ARGUMENT_CHARS


def _env(count: int, value_chars: int) -> dict[str, str]:
    return {f"V{i}": "v" * value_chars for i in range(count)}


# field -> (smallest accepted, largest accepted), each a dict of fields merged into a job.
EXTREMES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "name": ({"name": "n"}, {"name": "n" * limits.MAX_NAME_CHARS}),
    "command": (
        {"command": "x"},
        {"command": ["/bin/true", *[ARGUMENT[: limits.MAX_COMMAND_BYTES // 8 - 1]] * 7]},
    ),
    "workdir": ({"workdir": "/"}, {"workdir": "/" + "w" * (limits.MAX_WORKDIR_CHARS - 1)}),
    "env": ({"env": {}}, {"env": _env(4, limits.MAX_ENV_BYTES // 4 - 16)}),
    "secret_env": (
        {"secret_env": []},
        {"env": _env(limits.MAX_ENV_VARIABLES, 0), "secret_env": list(_env(limits.MAX_ENV_VARIABLES, 0))},
    ),
    "resources.accelerators": (
        {"resources": {"accelerators": f"{A}:1"}},
        {"resources": {"accelerators": [f"{A}:{limits.MAX_ACCELERATORS_PER_NODE}", "H100:8", "910B:8"]}},
    ),
    "resources.cpus": (
        {"resources": {"accelerators": f"{A}:1", "cpus": 1}},
        {"resources": {"accelerators": f"{A}:1", "cpus": limits.MAX_CPUS_PER_NODE}},
    ),
    "resources.cpus (a CPU-only job)": (
        {"resources": {"cpus": 1}},
        {"resources": {"cpus": limits.MAX_ACCELERATORS_PER_NODE}},
    ),
    "resources.memory_gb": (
        {"resources": {"accelerators": f"{A}:1", "memory_gb": 1e-9}},
        {"resources": {"accelerators": f"{A}:1", "memory_gb": limits.MAX_MEMORY_GB_PER_NODE}},
    ),
    "nodes": ({"nodes": 1}, {"nodes": limits.MAX_NODES_PER_JOB}),
    "priority": ({"priority": limits.MIN_PRIORITY}, {"priority": limits.MAX_PRIORITY}),
    "time_limit": ({"time_limit": 0.001}, {"time_limit": limits.MAX_TIME_LIMIT_S}),
    "constraints.regions": (
        {"constraints": {"regions": ["qingdao"]}},
        {"constraints": {"regions": [f"r{i}" for i in range(limits.MAX_CONSTRAINT_REGIONS)]}},
    ),
    "constraints.center_kinds": (
        {"constraints": {"center_kinds": ["ai"]}},
        {"constraints": {"center_kinds": ["ai", "hpc", "general", "edge"]}},
    ),
    "constraints.centers": (
        {"constraints": {"centers": ["qingdao-ai"]}},
        {"constraints": {"centers": [f"c{i}" for i in range(limits.MAX_CONSTRAINT_CENTERS)]}},
    ),
    "constraints.max_price_per_hour": (
        {"constraints": {"max_price_per_hour": 0}},
        {"constraints": {"max_price_per_hour": limits.MAX_JOB_PRICE_PER_HOUR}},
    ),
    "constraints.deadline": (
        {"constraints": {"deadline": (datetime.now(UTC) + timedelta(minutes=10)).isoformat()}},  # a past one is refused
        {
            "constraints": {"deadline": (limits.LATEST_DEADLINE - timedelta(seconds=1)).isoformat()},
            "time_limit": limits.MAX_TIME_LIMIT_S,
        },
    ),
    "labels": (
        {"labels": {}},
        {
            "labels": {
                f"{i:03d}" + "k" * (limits.MAX_LABEL_KEY_CHARS - 3): "v" * limits.MAX_LABEL_VALUE_CHARS
                for i in range(limits.MAX_LABELS)
            }
        },
    ),
    "max_retries": ({"max_retries": 0}, {"max_retries": limits.MAX_RETRIES}),
}


def test_the_table_names_every_field_of_a_job() -> None:
    named = {key.split(" ")[0] for key in EXTREMES}
    fields = (
        set(JobSpec.model_fields) - {"resources", "constraints"}
        | {f"resources.{f}" for f in Resources.model_fields}
        | {f"constraints.{f}" for f in Constraints.model_fields}
    )
    assert named == fields


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = (
            {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


@pytest.mark.parametrize("field", list(EXTREMES))
def test_the_extremes_of_a_field_never_stop_the_scheduler(api: TestClient, container: Container, field: str) -> None:
    cpu = pool("cpu", accelerator="CPU", per_node=64, nodes=2)
    assert api.post(f"{API}/centers", json=center("qingdao-ai", pool(nodes=4), cpu)).status_code == 201
    submitted = []
    for extreme in EXTREMES[field]:
        response = api.post(f"{API}/jobs", json=_merge(job(f"edge-{field}", accelerators=f"{A}:1"), extreme))
        assert response.status_code == 201, f"{field}: {extreme} is refused: {response.text[:500]}"
        submitted.append(response.json()["id"])
    ordinary = [
        api.post(f"{API}/jobs", json=job(f"ordinary-{i}", accelerators=f"{A}:1")).json()["id"] for i in range(3)
    ]

    container.loop.run_once()
    for job_id in ordinary:
        assert api.get(f"{API}/jobs/{job_id}").json()["status"] == "SCHEDULED"
    assert api.get(f"{API}/health").json()["status"] == "ok"
    for job_id in submitted:
        shown = api.get(f"{API}/jobs/{job_id}").json()
        assert shown["status"] in ("PENDING", "SCHEDULED"), f"{field}: job {job_id} is {shown}"
        explained = api.get(f"{API}/jobs/{job_id}/explain")
        assert explained.status_code == 200
        assert not any("cannot consider" in line for line in explained.json()["reasons"]), explained.json()
