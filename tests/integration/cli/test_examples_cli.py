"""The examples in examples/, through the CLI and a real server: centers join, jobs land."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

# Where each example job lands on the example fleet (the same tour tests/unit/test_examples.py checks).
EXPECTED = {
    "finetune-single-gpu": "qd-ai-1/a100",
    "gang-training-4-nodes": "qd-ai-1/a100",
    "alternatives-a100-or-910b": "sz-ascend/910b",
    "cpu-batch": "tj-hpc/cpu",
}


@pytest.fixture(scope="module")
def fleet(server) -> None:  # type: ignore[no-untyped-def]
    """The example centers, added once for the module's server."""
    from typer.testing import CliRunner

    from suanli.adapters.cli.main import app

    for path in sorted((EXAMPLES / "centers").glob("*.yaml")):
        result = CliRunner().invoke(app, ["--server", server.url, "--token", server.token, "center", "add", str(path)])
        assert result.exit_code == 0, result.stderr


def _placed(cli, job_id: int) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while True:
        job = cli("job", "show", str(job_id), "-o", "json").json()
        if job["status"] != "PENDING" or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_example_jobs_land_where_the_tour_says(fleet, cli, stem: str) -> None:  # type: ignore[no-untyped-def]
    submitted = cli("submit", str(EXAMPLES / f"{stem}.yaml"), "-o", "json")
    assert submitted.exit_code == 0, submitted.stderr
    (job,) = submitted.json()["items"]
    placed = _placed(cli, job["id"])
    assert placed["status"] == "SCHEDULED", cli("job", "explain", str(job["id"])).stdout
    placement = placed["placement"]
    assert f"{placement['center']}/{placement['pool']}" == EXPECTED[stem]
    reasons = " ".join(cli("job", "explain", str(job["id"]), "-o", "json").json()["reasons"])
    assert placement["center"] in reasons and "price" in reasons
    cli("job", "cancel", str(job["id"]))  # give the capacity back for the next example


def test_the_many_jobs_example_submits_every_job(fleet, cli) -> None:  # type: ignore[no-untyped-def]
    submitted = cli("submit", str(EXAMPLES / "many-jobs.yaml"), "-o", "json")
    assert submitted.exit_code == 0, submitted.stderr
    names = [j["name"] for j in submitted.json()["items"]]
    assert len(names) >= 2 and len(set(names)) == len(names)
    listed = cli("jobs", "--all", "--limit", "2", "-o", "json").json()["items"]
    assert set(names) <= {j["name"] for j in listed}


def test_every_example_passes_a_dry_run(cli) -> None:  # type: ignore[no-untyped-def]
    for path in sorted(EXAMPLES.glob("*.yaml")):
        result = cli("submit", str(path), "--dry-run", "-o", "json", server_url="http://127.0.0.1:9")
        assert result.exit_code == 0, (path.name, result.stderr)
        assert result.json()
