"""A secret environment value end to end: `suanli submit --secret-env NAME` takes it from the
submitting shell, a real agent runs the job with it, and neither the CLI's output (tables, JSON,
a dry run), the API's answers, the audit log, nor the server's or the agent's log shows it."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

import httpx
import yaml
from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from tests.integration.agent_e2e.conftest import MODEL, Cluster

SECRET = "hf_" + secrets.token_urlsafe(24)
# The job checks the value it was given against a hash of it, so nothing it prints, and nothing in
# its command, holds the secret.
CHECK = (
    "import hashlib, os, sys; "
    "ok = hashlib.sha256(os.environ['HF_TOKEN'].encode()).hexdigest() == sys.argv[1]; "
    "print('secret-ok' if ok else 'secret-wrong', os.environ['MODE']); sys.exit(0 if ok else 1)"
)


def test_a_secret_reaches_the_job_and_nothing_shows_it(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start_agent("lab", cluster.add_center("lab"))
    spec = {
        "name": "uses-a-secret",
        "command": ["python", "-c", CHECK, hashlib.sha256(SECRET.encode()).hexdigest()],
        "resources": {"accelerators": f"{MODEL}:1"},
        "env": {"MODE": "e2e"},
    }
    file = tmp_path / "job.yaml"
    file.write_text(yaml.safe_dump(spec))
    runner = CliRunner()
    printed: list[str] = []

    def cli(*args: str) -> str:
        result = runner.invoke(
            app,
            ["--server", cluster.server.url, "--token", cluster.server.token, *args],
            env={"HF_TOKEN": SECRET, "COLUMNS": "200", "SUANLI_HOME": str(tmp_path / "client-home")},
        )
        printed.append(result.stdout + result.stderr)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result.stdout

    dry = yaml.safe_load(cli("submit", str(file), "--secret-env", "HF_TOKEN", "--dry-run"))
    assert dry["env"] == {"MODE": "e2e", "HF_TOKEN": "***"} and dry["secret_env"] == ["HF_TOKEN"]
    (submitted,) = json.loads(cli("submit", str(file), "--secret-env", "HF_TOKEN", "-o", "json"))["items"]
    job_id = submitted["id"]

    assert cluster.wait_status(job_id, "SUCCEEDED", "FAILED", timeout=30).status == "SUCCEEDED"
    assert cli("logs", str(job_id)) == "secret-ok e2e\n"
    shown = json.loads(cli("job", "show", str(job_id), "-o", "json"))
    assert shown["spec"]["env"] == {"MODE": "e2e", "HF_TOKEN": "***"}
    for args in (["job", "show", str(job_id)], ["jobs"], ["jobs", "-o", "json"], ["job", "explain", str(job_id)]):
        cli(*args)
    answers = [
        httpx.get(f"{cluster.server.url}/api/v1{path}", headers=cluster.server.headers, timeout=10).text
        for path in ("/jobs", f"/jobs/{job_id}", f"/jobs/{job_id}/attempts", "/audit?limit=1000")
    ]

    assert not [text for text in printed + answers if SECRET in text]
    server_log = (cluster.server.home / "server.log").read_text(errors="replace")
    assert SECRET not in server_log
    for agent in cluster.agents:
        assert SECRET not in agent.output()


def test_a_secret_env_option_that_is_not_a_name_is_refused_without_repeating_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    file = tmp_path / "job.yaml"
    file.write_text(yaml.safe_dump({"name": "j", "command": "true"}))
    for option in (SECRET.replace("_", "-"), f"-{SECRET}=x"):
        result = CliRunner().invoke(
            app,
            ["--server", cluster.server.url, "--token", cluster.server.token, "submit", str(file)]
            + ["--secret-env", option],
            env={"SUANLI_HOME": str(tmp_path / "client-home")},
        )
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "--secret-env #1" in result.stderr and SECRET not in result.stdout + result.stderr
    unset = CliRunner().invoke(
        app,
        ["--server", cluster.server.url, "--token", cluster.server.token, "submit", str(file)]
        + ["--secret-env", "NOT_SET_ANYWHERE"],
        env={"SUANLI_HOME": str(tmp_path / "client-home")},
    )
    assert unset.exit_code == 2 and "does not set" in unset.stderr
    assert cluster.client.list_jobs().jobs == []
