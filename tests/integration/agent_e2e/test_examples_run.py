"""The runnable examples (examples/train-numpy-cpu.yaml, failing-job.yaml, gang-2-ranks-allreduce.yaml)
really run through a real `suanli server` and real agent processes, as docs/examples.md shows.

Jobs are submitted with `suanli submit` from the repository root, which makes the examples'
`workdir: .` absolute; the agents run in folders of their own, so the examples find their scripts
only through that. Two centers, both the stock `suanli agent` CLI:

- ``local`` with ``--accelerators CPU:1`` (one CPU slot, whatever GPUs the machine has), for the
  single-node examples;
- ``gang-slots`` with ``--accelerators CPU:2x1``: two node slots, so a gang of ``nodes: 2`` fits.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from suanli.client import JobOut, SuanliClient
from tests.integration.agent_e2e.conftest import SERVER_SETTINGS, Cluster
from tests.servers import start_server

REPO = Path(__file__).resolve().parents[3]
FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
WAIT_S = 120  # two shared cores: generous, but every wait polls and returns as soon as it can


@pytest.fixture(scope="module")
def examples_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("examples")
    server = start_server(root / "server", listen_port=None, **SERVER_SETTINGS)
    cluster = Cluster(server, SuanliClient(server.url, token=server.token, timeout=30), root)
    try:
        for center, slots in (("local", "CPU:1"), ("gang-slots", "CPU:2x1")):
            cluster.start_agent(center, cluster.add_center(center), accelerators=slots, timeout_s=60)
        yield cluster
    finally:
        cluster.close()


def cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["SUANLI_TOKEN"] = cluster.server.token  # as `suanli up` leaves it in the home
    return subprocess.run(
        [sys.executable, "-m", "suanli.adapters.cli.main", "--server", cluster.server.url, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )


def submit_example(cluster: Cluster, stem: str) -> JobOut:
    """The example file as is, with `suanli submit` run in the repository root, as a user types it."""
    submitted = cli(cluster, "submit", f"examples/{stem}.yaml", "-o", "json")
    assert submitted.returncode == 0, submitted.stderr
    (job,) = json.loads(submitted.stdout)["items"]
    assert job["spec"]["workdir"] == str(REPO)
    return JobOut.model_validate(job)


def full_log(client: SuanliClient, job_id: int) -> str:
    """Everything the job's latest attempt printed, read through the API until it says done."""
    data, offset = b"", 0
    deadline = time.monotonic() + WAIT_S
    while True:
        chunk = client.read_logs(job_id, offset=offset)
        data, offset = data + chunk.data, chunk.next_offset
        if chunk.done:
            return data.decode(errors="replace")
        if time.monotonic() > deadline:
            pytest.fail(f"the log of job {job_id} did not end within {WAIT_S}s:\n{data.decode(errors='replace')}")
        if not chunk.data:
            time.sleep(0.1)


EPOCH = re.compile(r"^epoch (\d+)/(\d+) loss (\d+\.\d+) accuracy (\d+\.\d+)$", re.MULTILINE)


def test_the_numpy_training_example_trains_and_its_loss_goes_down(examples_cluster: Cluster) -> None:
    cluster = examples_cluster
    job = submit_example(cluster, "train-numpy-cpu").model_dump()
    followed = cli(cluster, "logs", str(job["id"]), "-f")  # returns when the attempt ends
    assert followed.returncode == 0, followed.stderr

    done = cluster.wait_status(job["id"], *FINAL, timeout=WAIT_S)
    assert done.status == "SUCCEEDED", f"{done.message}\n{followed.stdout}"
    log = full_log(cluster.client, job["id"])
    assert followed.stdout == log
    assert f"suanli job {job['id']} attempt 1:" in log.splitlines()[0]
    epochs = [(int(e), int(n), float(loss), float(acc)) for e, n, loss, acc in EPOCH.findall(log)]
    wanted = int(done.spec.command[done.spec.command.index("--epochs") + 1])
    assert [e for e, *_ in epochs] == list(range(1, wanted + 1)) and {n for _, n, *_ in epochs} == {wanted}
    losses = [loss for _, _, loss, _ in epochs]
    assert losses[-1] < losses[0] / 2, losses
    assert sum(b < a for a, b in pairwise(losses)) >= 0.8 * (len(losses) - 1), losses  # it goes down, epoch by epoch
    assert epochs[-1][3] >= 0.9, epochs[-1]
    assert log.splitlines()[-1].startswith(f"done: final loss {losses[-1]:.4f}")


def test_the_failing_example_fails_with_its_exit_code_and_message(examples_cluster: Cluster) -> None:
    cluster = examples_cluster
    job = submit_example(cluster, "failing-job")

    done = cluster.wait_status(job.id, *FINAL, timeout=WAIT_S)

    assert done.status == "FAILED"
    assert "exited with code 3" in done.message
    shown = cli(cluster, "job", "show", str(job.id), "-o", "json")
    [attempt] = json.loads(shown.stdout)["attempt_timeline"]
    assert (attempt["state"], attempt["exit_code"], attempt["center"]) == ("FAILED", 3, "local")
    log = full_log(cluster.client, job.id)
    assert "error: input file data/does-not-exist.csv not found; exiting with code 3" in log  # its stderr


RANK_LINE = re.compile(r"^\[rank (\d+)\] rank \1/(\d+): (.*)$", re.MULTILINE)


def test_the_gang_example_runs_two_ranks_that_agree_on_the_sum(examples_cluster: Cluster) -> None:
    cluster = examples_cluster
    job = submit_example(cluster, "gang-2-ranks-allreduce")

    done = cluster.wait_status(job.id, *FINAL, timeout=WAIT_S)

    log = full_log(cluster.client, job.id)
    assert done.status == "SUCCEEDED", f"{done.message}\n{log}"
    [attempt] = cluster.client.job_attempts(job.id)
    assert (attempt.center, len(attempt.node_indices)) == ("gang-slots", 2)
    said: dict[int, list[str]] = {}
    for rank, world, text in RANK_LINE.findall(log):
        assert world == "2"
        said.setdefault(int(rank), []).append(text)
    assert sorted(said) == [0, 1], log
    vectors = {}
    sums = {}
    for rank, lines in said.items():
        (first,) = [line for line in lines if "contributing" in line]
        assert first.startswith(f"suanli job {job.id} attempt 1;")
        vectors[rank] = [int(v) for v in re.findall(r"-?\d+", first.split("contributing", 1)[1])]
        (agreed,) = [line for line in lines if line.startswith("all-reduce sum")]
        sums[rank] = [int(v) for v in re.findall(r"-?\d+", agreed.split("OK")[0])]
    expected = [a + b for a, b in zip(vectors[0], vectors[1], strict=True)]
    assert sums == {0: expected, 1: expected}, log
    assert any(line.startswith("received") for line in said[0]) and any(
        line.startswith("connected") for line in said[1]
    )
