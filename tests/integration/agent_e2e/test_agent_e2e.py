"""`suanli agent` against a real server, with real processes (issue 3)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.agent_e2e.conftest import Cluster, process_gone, wait_file
from tests.waiting import wait_until


def test_a_job_runs_through_the_agent_and_succeeds(cluster: Cluster) -> None:
    token = cluster.add_center("lab")
    agent = cluster.start_agent("lab", token)
    assert "serving center lab" in agent.output() and "declared" in agent.output()
    script = "print('hello from suanli'); import os; print(os.environ['SUANLI_JOB_ID'])"
    job = cluster.submit(["python", "-c", script])

    done = cluster.wait_status(job.id, "SUCCEEDED", "FAILED", "CANCELLED")

    assert done.status == "SUCCEEDED", done.message
    [attempt] = cluster.client.job_attempts(job.id)
    assert (attempt.center, attempt.attempt, attempt.state) == ("lab", 1, "SUCCEEDED")
    assert attempt.started_at is not None and attempt.ended_at is not None
    log = Path(cluster.root / "agent-lab" / "logs" / f"{job.id}-1.log").read_text()
    assert log.splitlines() == ["hello from suanli", str(job.id)]


def test_a_failing_command_fails_the_job_with_its_exit_code(cluster: Cluster) -> None:
    cluster.start_agent("lab", cluster.add_center("lab"))
    job = cluster.submit("echo about to fail; exit 3")

    done = cluster.wait_status(job.id, "SUCCEEDED", "FAILED", "CANCELLED")

    assert done.status == "FAILED"
    assert done.message == "exited with code 3"  # the code said once, in the executor's words
    [attempt] = cluster.client.job_attempts(job.id)
    assert (attempt.state, attempt.exit_code) == ("FAILED", 3)


def test_cancelling_a_running_job_kills_its_process(cluster: Cluster) -> None:
    cluster.start_agent("lab", cluster.add_center("lab"))
    pid_file = cluster.root / "pid"
    job = cluster.submit(f"echo $$ > {pid_file}; exec sleep 60")
    cluster.wait_status(job.id, "RUNNING")
    pid = int(wait_file(pid_file))
    cluster.pids.append(pid)
    assert not process_gone(pid)

    cluster.client.cancel_job(job.id)

    cluster.wait_for(job.id, lambda j: cluster.client.job_attempts(j.id)[-1].state == "CANCELLED")
    assert cluster.client.get_job(job.id).status == "CANCELLED"
    wait_until(lambda: process_gone(pid), f"process {pid} still runs after the cancel")


def test_a_job_whose_agent_dies_reruns_on_another_center_and_succeeds_once(cluster: Cluster) -> None:
    first = cluster.start_agent("east", cluster.add_center("east"))
    out = cluster.root / "effects"
    out.mkdir()
    # Attempt 1 records its pid, waits long enough for its center to be declared OFFLINE, then
    # writes its side effect and succeeds; attempt 2 does the same at once.
    command = (
        f"echo $$ > {out}/pid-$SUANLI_ATTEMPT; "
        f'if [ "$SUANLI_ATTEMPT" = 1 ]; then sleep 4; fi; '
        f"echo $SUANLI_ATTEMPT > {out}/done-$SUANLI_ATTEMPT"
    )
    job = cluster.submit(command, max_retries=1)
    cluster.wait_status(job.id, "RUNNING")
    cluster.pids.append(int(wait_file(out / "pid-1")))
    west_token = cluster.add_center("west")  # only now, so that attempt 1 ran on east

    first.kill9()
    cluster.start_agent("west", west_token)

    done = cluster.wait_status(job.id, "SUCCEEDED", "FAILED", "CANCELLED", timeout=12)
    assert done.status == "SUCCEEDED", done.message
    assert done.attempts == 2
    attempts = cluster.client.job_attempts(job.id)
    assert [(a.attempt, a.center, a.state) for a in attempts] == [(1, "east", "LOST"), (2, "west", "SUCCEEDED")]
    assert (out / "done-2").read_text().strip() == "2"
    assert cluster.client.get_center("east").state == "OFFLINE"
    # The orphaned first attempt may still finish its side effect, but nobody reports it.
    wait_file(out / "done-1", timeout=6)
    time.sleep(0.3)
    final = cluster.client.get_job(job.id)
    assert (final.status, final.attempts) == ("SUCCEEDED", 2)
    assert [a.state for a in cluster.client.job_attempts(job.id)] == ["LOST", "SUCCEEDED"]


def test_the_agent_reconnects_after_a_server_restart_and_reports_what_ended_meanwhile(cluster: Cluster) -> None:
    agent = cluster.start_agent("lab", cluster.add_center("lab"))
    mark = cluster.root / "mark"
    job = cluster.submit(f"sleep 1.5; echo done > {mark}")
    cluster.wait_status(job.id, "RUNNING")

    cluster.restart_server(agent_offline_after_s="15")  # the attempt ends while the server is away

    done = cluster.wait_status(job.id, "SUCCEEDED", "FAILED", "CANCELLED", timeout=12)
    assert done.status == "SUCCEEDED", done.message
    assert [(a.attempt, a.state) for a in cluster.client.job_attempts(job.id)] == [(1, "SUCCEEDED")]
    assert mark.read_text().strip() == "done"
    assert "reconnected" in agent.output()
    after = cluster.submit(["true"])
    assert cluster.wait_status(after.id, "SUCCEEDED", "FAILED", "CANCELLED").status == "SUCCEEDED"


def test_a_wrong_token_ends_the_agent_with_an_error(cluster: Cluster) -> None:
    cluster.add_center("lab")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    command = [sys.executable, "-m", "suanli.adapters.cli.main", "agent", "--server", cluster.server.url]
    run = subprocess.run(
        [*command, "--token", "sl_wrong", "--accelerators", "CPU:1", "--work-dir", str(cluster.root / "w")],
        env=env,
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert run.returncode == 1
    assert "refused this agent" in run.stderr and "token" in run.stderr


def test_logs_follow_prints_the_output_as_it_comes_and_stops_when_the_job_ends(cluster: Cluster) -> None:
    cluster.start_agent("lab", cluster.add_center("lab"))
    script = "import time\nfor i in range(3):\n    print(f'line {i}', flush=True)\n    time.sleep(1.5)\nprint('bye')"
    job = cluster.submit(["python", "-c", script])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")} | {"SUANLI_TOKEN": cluster.server.token}
    follower = subprocess.Popen(
        [sys.executable, "-m", "suanli.adapters.cli.main", "--server", cluster.server.url, "logs", str(job.id), "-f"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert follower.stdout is not None
        # Raw reads, not readline: communicate() below reads the pipe itself, so bytes a buffered
        # readline took ahead (a second line that came in the same write) would be lost to it.
        first = b""
        while b"\n" not in first:
            piece = os.read(follower.stdout.fileno(), 4096)
            assert piece, "the follower ended before printing a line"
            first += piece
        assert first.startswith(b"line 0\n")  # arrives while the job still runs
        assert cluster.client.get_job(job.id).status in ("SCHEDULED", "RUNNING")
        rest, errors = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(10)
    assert follower.returncode == 0, errors.decode(errors="replace")
    assert (first + rest).decode().splitlines() == ["line 0", "line 1", "line 2", "bye"]
    assert cluster.client.get_job(job.id).status == "SUCCEEDED"
    assert cluster.client.read_logs(job.id, attempt=1).data == b"line 0\nline 1\nline 2\nbye\n"
