"""Fault injection against real processes: a `suanli server` on SQLite or PostgreSQL, real
`suanli agent` processes with the local backend, and jobs that write down each time they run.

Each job appends ``JOB ATTEMPT`` to a ledger file when it starts, so a test can see whether any
job ran twice (or never), whatever the server says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.agent_e2e.conftest import Cluster, running_cluster
from tests.integration.storage.conftest import postgres_schema_url

# An agent down this long is declared OFFLINE and its attempts LOST. The faults here restart it
# well within that: a job must then neither be lost nor run twice.
SETTINGS = {"agent_offline_after_s": "20", "agent_heartbeat_s": "0.5"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Server settings naming the database: SQLite in the server's home, or a fresh PG schema."""
    if request.param == "sqlite":
        yield {}
        return
    with postgres_schema_url() as url:
        yield {"database_url": url}


@pytest.fixture
def cluster(tmp_path: Path, database: dict[str, str]) -> Iterator[Cluster]:
    with running_cluster(tmp_path, **SETTINGS, **database) as cluster:
        yield cluster


def ledger_job(ledger: Path, name: str, *, sleep_s: float = 0.2, exit_code: int = 0, **fields: Any) -> dict[str, Any]:
    """A job that writes ``JOB ATTEMPT`` to ``ledger`` when it starts, prints ``job JOB ran``, runs
    ``sleep_s`` and exits with ``exit_code``."""
    script = (
        f'echo "$SUANLI_JOB_ID $SUANLI_ATTEMPT" >> {ledger}; echo "job $SUANLI_JOB_ID ran"; '
        f"sleep {sleep_s}; exit {exit_code}"
    )
    return {"name": name, "command": ["/bin/sh", "-c", script], "resources": {"accelerators": "A100-80G:1"}, **fields}


def runs_per_job(ledger: Path) -> Counter[int]:
    """How many times each job started, from the ledger."""
    if not ledger.exists():
        return Counter()
    return Counter(int(line.split()[0]) for line in ledger.read_text().splitlines() if line.strip())
