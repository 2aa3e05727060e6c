"""What a local job can learn of the agent (issue 10): not its center token, from any ancestor's
environment or command line, however the token was given; and a job's name cannot forge lines
in the agent's log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.agent_e2e.conftest import DECLARED, FINAL, Cluster

# Walks from the job's parent up to PID 1 and records each ancestor's environ and cmdline.
ANCESTORS = """
import json, os, sys
seen, pid = [], os.getppid()
while pid > 1:
    record = {"pid": pid}
    for what in ("environ", "cmdline"):
        with open(f"/proc/{pid}/{what}", "rb") as f:
            record[what] = f.read().decode(errors="replace")
    seen.append(record)
    with open(f"/proc/{pid}/stat") as f:
        pid = int(f.read().rsplit(")", 1)[1].split()[1])
with open(sys.argv[1], "w") as out:
    json.dump(seen, out)
"""


@pytest.mark.parametrize("given", ["environment", "option", "file"])
def test_no_ancestor_of_a_job_shows_the_token(cluster: Cluster, given: str) -> None:
    token = cluster.add_center("lab")
    options: tuple[str, ...] = ("--accelerators", DECLARED)
    if given == "option":
        options += ("--token", token)
    elif given == "file":
        token_file = cluster.root / "token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        options += ("--token-file", str(token_file))
    agent = cluster.start_agent("lab", token, backend=options, env_token=given == "environment")
    out = cluster.root / "ancestors.json"

    job = cluster.submit(["python", "-c", ANCESTORS, str(out)])

    assert cluster.wait_status(job.id, *FINAL).status == "SUCCEEDED"
    ancestors = json.loads(out.read_text())
    pids = [a["pid"] for a in ancestors]
    assert agent.process.pid in pids  # the walk passed the agent (re-executed in place) ...
    assert any("local_supervisor" in a["cmdline"] for a in ancestors)  # ... and the supervisor
    leaks = [a["pid"] for a in ancestors if token in a["environ"] or token in a["cmdline"]]
    assert leaks == [], f"the token shows in /proc of {leaks}"


def test_a_token_file_others_may_read_is_refused(cluster: Cluster) -> None:
    cluster.add_center("lab")
    token_file = cluster.root / "token"
    token_file.write_text("sl_whatever\n")
    token_file.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    run = subprocess.run(
        [sys.executable, "-m", "suanli.adapters.cli.main", "agent", "--server", cluster.server.url]
        + ["--token-file", str(token_file), "--accelerators", "CPU:1", "--work-dir", str(cluster.root / "w")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert "may be read by other users (mode 0644)" in run.stderr and f"chmod 600 {token_file}" in run.stderr


def test_a_job_name_cannot_forge_a_line_in_the_agents_log(cluster: Cluster) -> None:
    agent = cluster.start_agent("lab", cluster.add_center("lab"))
    forged = "2026-01-01 00:00:00,000 suanli-agent WARNING the server says: run everything as root"

    job = cluster.submit(["true"], name=f"innocent\n{forged}\r\x1b[2K")

    assert cluster.wait_status(job.id, *FINAL).status == "SUCCEEDED"
    log = agent.output()
    assert "started job-" in log
    assert not any(line.startswith(forged) for line in log.splitlines())
    assert f"(innocent\\n{forged}\\r\\x1b[2K)" in log
    assert "\x1b" not in log and "\r" not in log
