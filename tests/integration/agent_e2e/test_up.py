"""`suanli up`: one real process with the server and a local center; a job runs through it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from suanli.client import JobOut, SuanliClient
from tests.servers import free_port, start_server


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    url: str
    home: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    @property
    def token(self) -> str:
        """The admin token `suanli up` made for its new home."""
        return (self.home / "token").read_text().strip()


def up_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["SUANLI_SCHEDULER_INTERVAL_S"] = "0.1"
    return env


SUANLI = [sys.executable, "-m", "suanli.adapters.cli.main"]
UP = [*SUANLI, "up"]


@contextlib.contextmanager
def suanli_up(tmp_path: Path, *options: str) -> Iterator[Up]:
    """A real `suanli up` process, started and answering; killed (with its jobs) at the end."""
    port = free_port()
    home = tmp_path / "home"
    log = tmp_path / "up.log"
    env = up_environment()
    command = [*UP, "--port", str(port), "--home", str(home)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, *options], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    up = Up(process, f"http://127.0.0.1:{port}", home, log)
    try:
        deadline = time.monotonic() + 30
        while "Center local" not in up.output():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`suanli up` did not start:\n{up.output()}")
            time.sleep(0.05)
        yield up
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def wait_final(client: SuanliClient, job_id: int, timeout_s: float, up: Up) -> JobOut:
    deadline = time.monotonic() + timeout_s
    while (job := client.get_job(job_id)).status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        if time.monotonic() > deadline:
            pytest.fail(f"job {job.id} is {job.status} ({job.message!r}) after {timeout_s} s:\n{up.output()}")
        time.sleep(0.05)
    return job


def test_up_runs_a_job_on_this_machine_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with suanli_up(tmp_path, "--accelerators", "A100-80G:1") as up:
        assert httpx.get(f"{up.url}/api/v1/health", timeout=5).status_code == 200
        assert "declared" in up.output() and "submit FILE.yaml" in up.output()
        # "serving on" is said once the server listens, before the agent's first hello.
        assert up.output().startswith(f"Suanli serving on {up.url} (API docs"), up.output()

        # The only pool here is the declared A100 one, so the job asks for one of it.
        with SuanliClient(up.url, token=up.token, timeout=30) as client:
            spec = {
                "name": "up",
                "command": ["python", "-c", "print('ok')"],
                "resources": {"accelerators": "A100-80G:1"},
            }
            job = wait_final(client, client.submit(spec).id, 10, up)
            assert job.status == "SUCCEEDED", job.message
            [attempt] = client.job_attempts(job.id)
            assert attempt.center == "local"
        assert (up.home / "agent" / "logs" / f"{job.id}-1.log").read_text().strip() == "ok"

        up.process.send_signal(signal.SIGTERM)
        try:
            code = up.process.wait(5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`suanli up` did not stop within 5 s of SIGTERM:\n{up.output()}")
        assert code == 0, up.output()
        assert "Suanli stopped" in up.output()


def test_up_demo_spreads_sample_jobs_over_simulated_centers_marked_as_such(tmp_path: Path) -> None:
    with suanli_up(tmp_path, "--demo") as up, SuanliClient(up.url, token=up.token, timeout=30) as client:
        deadline = time.monotonic() + 30
        while "sample jobs submitted" not in up.output():
            if time.monotonic() > deadline:  # a guard against hanging, not a measurement
                pytest.fail(up.output())
            time.sleep(0.05)
        centers = {center.name: center for center in client.list_centers()}
        simulated = {name for name, center in centers.items() if center.backend == "simulated"}
        assert len(simulated) >= 4 and all(name.startswith("sim-") for name in simulated)
        assert centers["local"].backend == "local"
        assert all("simulated" in centers[name].owner for name in simulated)

        jobs = {job.name: job for job in client.iter_jobs()}
        assert all(job.spec.labels.get("demo") == "true" for job in jobs.values())
        # The one real job runs here, and its output is real.
        local = wait_final(client, jobs["hello-from-this-machine"].id, 30, up)
        assert local.status == "SUCCEEDED", local.message
        assert "step 5/5 on" in client.read_logs(local.id).data.decode()
        # Everything else is placed on simulated centers that fit its constraints.
        placed: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while len(placed) < len(jobs) - 1:
            if time.monotonic() > deadline:  # a guard against hanging, not a measurement
                pytest.fail(f"placed only {placed}:\n{up.output()}")
            for job in client.iter_jobs():
                if job.placement is not None and job.name != "hello-from-this-machine":
                    placed[job.name] = job.placement.center
            time.sleep(0.2)
        assert set(placed.values()) <= simulated
        assert centers[placed["weather-ensemble"]].kind == "hpc"
        assert centers[placed["traffic-camera-inference"]].kind == "edge"
        assert len(set(placed.values())) >= 3  # cross-center scheduling, not one center for all
        # A simulated job's log says that nothing really ran.
        edge = wait_final(client, jobs["traffic-camera-inference"].id, 40, up)
        assert edge.status == "SUCCEEDED"
        assert "this center is simulated" in client.read_logs(edge.id).data.decode()


def test_up_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    env = up_environment()
    env["SUANLI_HOME"] = str(tmp_path / "home")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ended = subprocess.run([*UP, "--port", str(port)], env=env, capture_output=True, text=True, timeout=60)
    assert ended.returncode == 1, ended
    assert ended.stderr == f"error: port {port} on 127.0.0.1 is in use; pass --port or stop the other process\n"
    assert ended.stdout == ""


def test_up_demo_on_a_home_with_other_centers_offers_a_fresh_home_and_reset_empties_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    try:
        SuanliClient(server.url, token=server.token).add_center(
            {"name": "real-site", "owner": "a lab", "kind": "ai", "region": "here", "pools": []}
        )
        # While a server runs on the home, reset refuses and deletes nothing.
        running = subprocess.run(
            [*SUANLI, "reset", "--home", str(home), "--yes"],
            env=up_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert running.returncode == 1 and "a Suanli server runs on the home" in running.stderr
        assert (home / "suanli.db").exists()
    finally:
        server.stop()
    (home / "config.yaml").write_text("scheduler_interval_s: 0.5\n")

    refused = subprocess.run(
        [*UP, "--demo", "--home", str(home), "--port", str(free_port())],
        env=up_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2, refused
    assert "already has other centers (real-site)" in refused.stderr
    assert "suanli up --demo --home /tmp/suanli-demo" in refused.stderr and "suanli reset" in refused.stderr
    assert "Traceback" not in refused.stderr and "serving on" not in refused.stdout

    emptied = subprocess.run(
        [*SUANLI, "reset", "--home", str(home), "--yes"],
        env=up_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert emptied.returncode == 0, emptied
    assert not (home / "suanli.db").exists() and (home / "config.yaml").exists()
    with suanli_up(tmp_path, "--demo") as demo:  # the same home, empty now: the demo starts
        centers = {c.name for c in SuanliClient(demo.url, token=demo.token).list_centers()}
    assert "real-site" not in centers and "local" in centers
