"""Local attempts outlive `suanli agent` (kill -9, or a graceful stop) and the next agent of the
center adopts them: the job ends once, as it really ended (issue 10). Real server, real agents."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanli.client import SuanliClient
from tests.integration.agent_e2e.conftest import FINAL, Cluster, process_gone, wait_file
from tests.servers import start_server


@pytest.fixture
def patient(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster whose server waits 30 s before it declares a silent center OFFLINE: long enough
    for a new agent to start, so that what it adopts has not been declared lost meanwhile."""
    server = start_server(tmp_path / "server", agent_offline_after_s="30", agent_heartbeat_s="0.5")
    cluster = Cluster(server, SuanliClient(server.url, token=server.token, timeout=30), tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


def ledger_job(cluster: Cluster) -> tuple[int, Path, Path]:
    """A job (no retries) that appends its key to a ledger, then waits for ``go``; returns its id,
    the ledger and ``go``."""
    ledger, go = cluster.root / "ledger", cluster.root / "go"
    command = (
        f'echo "$SUANLI_JOB_ID $SUANLI_ATTEMPT" >> {ledger}; echo started; '
        f"i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo finished"
    )
    job = cluster.submit(command, max_retries=0)
    cluster.wait_status(job.id, "RUNNING")
    wait_file(ledger)
    return job.id, ledger, go


def assert_ran_once_and_succeeded(cluster: Cluster, job_id: int, ledger: Path) -> None:
    done = cluster.wait_status(job_id, *FINAL, timeout=20)
    assert done.status == "SUCCEEDED", done.message
    attempts = cluster.client.job_attempts(job_id)
    assert [(a.attempt, a.center, a.state, a.exit_code) for a in attempts] == [(1, "lab", "SUCCEEDED", 0)]
    assert ledger.read_text() == f"{job_id} 1\n"
    assert cluster.client.read_logs(job_id, attempt=1).data == b"started\nfinished\n"


def test_a_job_survives_its_agent_killed_9_and_succeeds_once_under_the_next(patient: Cluster) -> None:
    token = patient.add_center("lab")
    first = patient.start_agent("lab", token)
    job_id, ledger, go = ledger_job(patient)

    first.kill9()
    second = patient.start_agent("lab", token)

    assert "took over 1 attempt(s)" in second.output()
    go.touch()
    assert_ran_once_and_succeeded(patient, job_id, ledger)


def test_sigterm_stops_the_agent_and_leaves_its_attempts_to_the_next(patient: Cluster) -> None:
    token = patient.add_center("lab")
    first = patient.start_agent("lab", token)
    job_id, ledger, go = ledger_job(patient)
    pids = next(patient.root.glob("agent-lab/attempts/*/pids")).read_text().split()
    rank = int(pids[-1])

    first.process.send_signal(signal.SIGTERM)

    assert first.process.wait(10) == 0
    assert "Suanli agent stopped" in first.output()
    assert not process_gone(rank)  # left running, for the next agent
    assert patient.client.get_job(job_id).status == "RUNNING"
    second = patient.start_agent("lab", token)
    assert "took over 1 attempt(s)" in second.output()
    go.touch()
    assert_ran_once_and_succeeded(patient, job_id, ledger)
