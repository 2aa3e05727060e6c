"""`suanli usage` and the usage line of `suanli job show`, against a real server whose center's
agent (spoken for here over HTTP) runs a job to its end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.integration.cli.conftest import center_yaml, write
from tests.servers import Server

API = "/api/v1"


def ran_a_job(server: Server, cli: Any, tmp_path: Path) -> int:
    """A job placed on a new center, taken by its agent, RUNNING then SUCCEEDED; its id."""
    assert cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("usage-ai")))).exit_code == 0
    with httpx.Client(base_url=server.url + API, headers=server.headers, timeout=30) as admin:
        token = admin.post("/centers/usage-ai/tokens").json()["token"]
        body = {"name": "metered", "command": ["true"], "resources": {"accelerators": "A100:8"}}
        job_id = int(admin.post("/jobs", json=body | {"constraints": {"centers": ["usage-ai"]}}).json()["id"])
    with httpx.Client(base_url=server.url + API, headers={"Authorization": f"Bearer {token}"}, timeout=30) as agent:
        pools = [{"name": "main", "accelerator": "A100", "accelerators_per_node": 8, "nodes": 2}]
        agent.post("/agent/hello", json={"protocol": 1, "agent_version": "test", "pools": pools, "running": []})
        taken = agent.get("/agent/assignments", params={"wait": 20}).json()[
            "assignments"
        ]  # placed by the server's loop
        assert [a["job_id"] for a in taken] == [job_id]
        for state in ("RUNNING", "SUCCEEDED"):
            answer = agent.post(
                f"/agent/attempts/{job_id}/1/state", json={"protocol": 1, "state": state, "exit_code": 0}
            )
            assert answer.status_code == 200, answer.text
    return job_id


def test_usage_lists_sums_and_shows_per_job(server: Server, cli: Any, tmp_path: Path) -> None:
    job_id = ran_a_job(server, cli, tmp_path)

    listed = cli("usage", "--job", str(job_id), "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    (record,) = listed.json()["items"]
    assert listed.json()["next_cursor"] is None
    assert (record["job_id"], record["center"], record["accelerators"], record["reason"]) == (
        job_id,
        "usage-ai",
        8,
        "SUCCEEDED",
    )

    by_center = cli("usage", "--by", "center", "--since", "7d", "-o", "json")
    assert by_center.exit_code == 0, by_center.stderr
    assert "usage-ai" in {group["key"] for group in by_center.json()["items"]}
    table = cli("usage", "--by", "accelerator", "--center", "usage-ai")
    assert table.exit_code == 0 and "A100-80G" in table.stdout and "ACC-HOURS" in table.stdout
    records = cli("usage", "--center", "usage-ai")
    assert records.exit_code == 0 and "SUCCEEDED" in records.stdout

    shown = cli("job", "show", str(job_id))
    assert shown.exit_code == 0, shown.stderr
    assert "usage" in shown.stdout and "accelerator-hours" in shown.stdout
    as_json = cli("job", "show", str(job_id), "-o", "json").json()
    assert as_json["usage"]["records"] == 1 and as_json["usage"]["key"] == str(job_id)


def test_a_job_without_usage_says_so(server: Server, cli: Any) -> None:
    with httpx.Client(base_url=server.url + API, headers=server.headers, timeout=30) as admin:
        body = {"name": "waits", "command": ["true"], "resources": {"accelerators": "H100:1"}}
        job_id = int(admin.post("/jobs", json=body, params={"if_unfit": "queue"}).json()["id"])
    shown = cli("job", "show", str(job_id))
    assert shown.exit_code == 0, shown.stderr
    assert "none recorded yet" in shown.stdout


def test_bad_usage_options_are_refused_clearly(cli: Any) -> None:
    unknown = cli("usage", "--by", "week")
    assert unknown.exit_code == 2 and "week" in unknown.stderr
    since = cli("usage", "--since", "yesterday")
    assert since.exit_code == 2 and "--since" in since.stderr and "yesterday" in since.stderr


def test_balance_lists_the_accounts_of_every_organization_for_the_admin(server: Server, cli: Any) -> None:
    listed = cli("balance", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    accounts = {item["account"]: item for item in listed.json()["items"]}
    assert {"receivable:default", "payable:default"} <= set(accounts)
    assert all(item["balance"].count(".") == 1 for item in accounts.values())  # text, to the fen
    table = cli("balance")
    assert table.exit_code == 0 and "receivable:default" in table.stdout and "AMOUNT (CNY)" in table.stdout
    refused = cli("balance", "--until", "someday")
    assert refused.exit_code != 0 and "Traceback" not in refused.stdout + refused.stderr
