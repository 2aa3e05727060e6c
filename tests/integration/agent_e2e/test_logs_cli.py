"""`suanli logs` against a real agent: the output of a job that failed, and an exit code that
says it failed."""

from __future__ import annotations

from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from tests.integration.agent_e2e.conftest import Cluster


def test_logs_of_a_failed_job_prints_its_output_and_exits_1(cluster: Cluster) -> None:
    cluster.start_agent("lab", cluster.add_center("lab"))
    job = cluster.submit(["/bin/sh", "-c", "echo about to fail; exit 3"])
    cluster.wait_status(job.id, "FAILED", timeout=30)
    result = CliRunner().invoke(
        app, ["--server", cluster.server.url, "--token", cluster.server.token, "logs", str(job.id)]
    )
    assert result.exit_code == 1
    assert result.stdout == "about to fail\n"
    assert f"error: job {job.id} FAILED" in result.stderr and "code 3" in result.stderr


def test_logs_of_a_job_that_succeeded_exits_0(cluster: Cluster) -> None:
    cluster.start_agent("lab", cluster.add_center("lab"))
    job = cluster.submit(["/bin/sh", "-c", "echo fine"])
    cluster.wait_status(job.id, "SUCCEEDED", timeout=30)
    result = CliRunner().invoke(
        app, ["--server", cluster.server.url, "--token", cluster.server.token, "logs", str(job.id), "-f"]
    )
    assert result.exit_code == 0 and result.stdout == "fine\n" and result.stderr == ""
