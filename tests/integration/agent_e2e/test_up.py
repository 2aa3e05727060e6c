"""`suanli up`: one real process with the server and a local center; a job runs through it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from suanli.client import SuanliClient
from tests.servers import free_port


def test_up_runs_a_job_on_this_machine_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "home"
    log = tmp_path / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["SUANLI_SCHEDULER_INTERVAL_S"] = "0.1"
    command = [sys.executable, "-m", "suanli.adapters.cli.main", "up", "--port", str(port), "--home", str(home)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command + ["--accelerators", "A100-80G:1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while "Center local" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`suanli up` did not start:\n{log.read_text()}")
            time.sleep(0.05)
        assert httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200
        assert "declared" in log.read_text() and "submit FILE.yaml" in log.read_text()

        # The only pool here is the declared A100 one, so the job asks for one of it.
        with SuanliClient(url, timeout=30) as client:
            spec = {
                "name": "up",
                "command": ["python", "-c", "print('ok')"],
                "resources": {"accelerators": "A100-80G:1"},
            }
            job = client.submit(spec)
            deadline = time.monotonic() + 10
            while (job := client.get_job(job.id)).status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                if time.monotonic() > deadline:
                    pytest.fail(f"job {job.id} is {job.status} ({job.message!r}) after 10 s:\n{log.read_text()}")
                time.sleep(0.05)
            assert job.status == "SUCCEEDED", job.message
            [attempt] = client.job_attempts(job.id)
            assert attempt.center == "local"
        assert (home / "agent" / "logs" / f"{job.id}-1.log").read_text().strip() == "ok"

        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`suanli up` did not stop within 5 s of SIGTERM:\n{log.read_text()}")
        assert code == 0, log.read_text()
        assert "Suanli stopped" in log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
