"""What a newcomer sees about waiting: why each job waits, a job no pool could ever run refused at
submission (or queued on purpose), a center whose agent never connected, and `suanli status`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.cli.conftest import assert_clean_error, center_yaml, write
from tests.servers import Server
from tests.waiting import wait_until

EIGHT_A100 = """\
name: {name}
command: [python, -V]
resources: {{accelerators: ['A100-80G:8']}}
constraints: {{centers: [wait-site]}}
"""


def test_a_job_no_pool_could_ever_run_is_refused_with_the_reason(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("unfit-a100", nodes=1))))
    h100 = "name: wants-h100\ncommand: [python, -V]\nresources: {accelerators: ['H100:8']}\n"
    spec = write(tmp_path / "h100.yaml", h100)

    lines = assert_clean_error(cli("submit", str(spec)), 2)
    said = " ".join(lines)
    assert "no registered pool could ever run this job" in said and "--allow-unfit" in said
    assert "H100" in said  # the reason names what the job asks for
    assert not any(j["name"] == "wants-h100" for j in cli("jobs", "-o", "json").json()["items"])

    queued = cli("submit", str(spec), "--allow-unfit", "-o", "json")
    assert queued.exit_code == 0, queued.stderr
    [job] = queued.json()["items"]
    assert job["status"] == "PENDING" and "H100" in job["warning"]
    assert f"job {job['id']} 'wants-h100' waits for a center that can run it" in queued.stderr


def test_jobs_say_why_they_wait(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("wait-site", per_node=8, nodes=1))))
    first = cli("submit", str(write(tmp_path / "a.yaml", EIGHT_A100.format(name="takes-all"))), "-o", "json")
    [placed] = first.json()["items"]
    second = cli("submit", str(write(tmp_path / "b.yaml", EIGHT_A100.format(name="waits-room"))), "-o", "json")
    [waiting] = second.json()["items"]

    def shown(job_id: int, status: str) -> dict:  # type: ignore[type-arg]
        job = cli("job", "show", str(job_id), "-o", "json").json()
        return job if job["status"] == status else {}

    # Placed on a center no agent ever connected to: it waits for that agent, and says so.
    on_center = wait_until(lambda: shown(placed["id"], "SCHEDULED"), "the first job was not placed")
    assert on_center["waiting_reason"] == "waits for the agent of center wait-site, which has never connected"
    assert "waits for the agent of center wait-site" in cli("job", "show", str(placed["id"])).stdout
    explained = cli("job", "explain", str(placed["id"]), "-o", "json").json()["reasons"]
    assert explained[-1] == on_center["waiting_reason"]

    # The second waits for room: the one-line reason names the pool and what is free.
    listed = {j["id"]: j for j in cli("jobs", "--name", "waits-room", "-o", "json").json()["items"]}
    reason = listed[waiting["id"]]["waiting_reason"]
    assert reason.startswith("wait-site/main: needs 8 x A100-80G, 0 free"), reason
    assert "next in line" in reason  # first in the queue: it holds the reservation for that pool
    table = cli("jobs", "--name", "waits-room").stdout
    assert "needs 8 x A100-80G, 0 free" in table

    # Once the first lets go, the second is placed.
    cli("job", "cancel", str(placed["id"]))
    second_placed = wait_until(
        lambda: shown(waiting["id"], "SCHEDULED"), "the second job was not placed once the first was cancelled"
    )
    assert second_placed["placement"]["center"] == "wait-site"


def test_a_connected_agent_makes_its_center_online_and_status_shows_it(
    cli,  # type: ignore[no-untyped-def]
    server: Server,
    tmp_path: Path,
) -> None:
    cli("center", "add", "--name", "agent-site", "--owner", "lab", "--kind", "general", "--region", "here")
    before = cli("status", "-o", "json").json()
    [glance] = [c for c in before["centers"] if c["name"] == "agent-site"]
    assert (glance["condition"], glance["agent"]) == ("NO_AGENT", "never")
    assert before["health"]["status"] == "ok" and before["health"]["scheduler"]["leader"] is True

    token = tmp_path / "token"
    minted = cli("center", "token", "agent-site")
    token.write_text(minted.stdout)
    token.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")} | {"SUANLI_HOME": str(tmp_path)}
    agent = subprocess.Popen(
        [sys.executable, "-m", "suanli.adapters.cli.main", "--server", server.url, "agent"]
        + ["--token-file", str(token), "--work-dir", str(tmp_path / "work"), "--accelerators", "CPU:2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def connected() -> dict | None:  # type: ignore[type-arg]
            centers = cli("center", "list", "-o", "json").json()["items"]
            center = next(c for c in centers if c["name"] == "agent-site")
            return center if center["agent"] == "connected" else None

        center = wait_until(connected, "the agent did not connect")
        assert center["condition"] == "ONLINE" and center["agent_last_seen"] is not None
        row = next(line for line in cli("center", "list").stdout.splitlines() if "agent-site" in line)
        assert "ONLINE" in row and "connected" in row

        table = cli("status")
        assert table.exit_code == 0
        row = next(line for line in table.stdout.splitlines() if "agent-site" in line)
        assert "ONLINE" in row and "connected" in row
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
