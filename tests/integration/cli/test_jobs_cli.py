"""`suanli submit`, `suanli jobs`, `suanli job ...` against a real server."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.cli.conftest import assert_clean_error, center_yaml, write
from tests.servers import free_port

JOBS = """\
jobs:
  - name: {prefix}-train
    command: [python, train.py]
    resources: {{accelerators: "A100:8"}}
    labels: {{team: cv}}
  - name: {prefix}-eval
    command: python eval.py
    resources: {{accelerators: ["910B:4", "A100:4"]}}
"""


def _wait_for(cli, job_id: int, status: str) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while True:
        job = cli("job", "show", str(job_id), "-o", "json").json()
        if job["status"] == status or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_submit_list_show_explain_cancel(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("cli-jobs-site", nodes=1))))
    submitted = cli("submit", str(write(tmp_path / "jobs.yaml", JOBS.format(prefix="flow"))), "-o", "json")
    assert submitted.exit_code == 0, submitted.stderr
    jobs = submitted.json()["items"]
    assert [j["name"] for j in jobs] == ["flow-train", "flow-eval"]
    train, evaluate = jobs[0]["id"], jobs[1]["id"]

    job = _wait_for(cli, train, "SCHEDULED")
    assert job["status"] == "SCHEDULED" and job["placement"]["center"] == "cli-jobs-site"

    listed = cli("jobs", "--name", "flow-", "-o", "json").json()
    assert [j["id"] for j in listed["items"]] == [evaluate, train] and listed["next_cursor"] is None
    assert [j["name"] for j in cli("jobs", "--label", "team=cv", "--name", "flow", "-o", "json").json()["items"]] == [
        "flow-train"
    ]
    table = cli("jobs", "--name", "flow-")
    assert "flow-train" in table.stdout and "SCHEDULED" in table.stdout

    shown = cli("job", "show", str(train))
    assert "cli-jobs-site/main" in shown.stdout
    assert "attempts:" in shown.stdout and "#1 cli-jobs-site/main" in shown.stdout and "ASSIGNED" in shown.stdout
    explained = cli("job", "explain", str(train), "-o", "json").json()
    assert explained["status"] == "SCHEDULED" and "cli-jobs-site" in " ".join(explained["reasons"])
    waiting = cli("job", "explain", str(evaluate))
    assert waiting.exit_code == 0 and f"job {evaluate} is" in waiting.stdout

    cancelled = cli("job", "cancel", str(train), "-o", "json")
    assert cancelled.json()["status"] == "CANCELLED"
    again = cli("job", "cancel", str(train))  # cancelled already: no error, the wish holds
    assert again.exit_code == 0 and f"cancelled job {train}" in again.stdout
    assert_clean_error(cli("job", "show", "999999"), 1)


def test_paging_and_all(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = "\n---\n".join(f"name: page-{i}\ncommand: echo {i}\n" for i in range(7))
    submitted = cli("submit", str(write(tmp_path / "many.yaml", docs)), "--allow-unfit", "-o", "json").json()["items"]
    ids = sorted((j["id"] for j in submitted), reverse=True)

    first = cli("jobs", "--name", "page-", "--limit", "3", "-o", "json").json()
    assert [j["id"] for j in first["items"]] == ids[:3] and first["next_cursor"]
    second = cli("jobs", "--name", "page-", "--limit", "3", "--cursor", first["next_cursor"], "-o", "json").json()
    assert [j["id"] for j in second["items"]] == ids[3:6]
    every = cli("jobs", "--name", "page-", "--limit", "2", "--all", "-o", "json").json()
    assert [j["id"] for j in every["items"]] == ids
    hint = cli("jobs", "--name", "page-", "--limit", "3")
    assert "--cursor" in hint.stderr
    assert_clean_error(cli("jobs", "--status", "DONE"), 2)


def test_invalid_job_files_exit_2_naming_file_job_line_and_field(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = write(
        tmp_path / "bad.yaml",
        "- name: ok\n  command: echo\n- name: broken\n  command: echo\n  nodes: 0\n  colour: blue\n",
    )
    lines = assert_clean_error(cli("submit", str(bad)), 2)
    text = "\n".join(lines)
    assert "bad.yaml" in text and "job 2 'broken'" in text
    assert "nodes" in text and "line 5" in text and "colour" in text and "line 6" in text

    malformed = write(tmp_path / "malformed.yaml", "name: x\ncommand: [echo\n")
    lines = assert_clean_error(cli("submit", str(malformed)), 2)
    assert "malformed.yaml" in lines[0] and "malformed YAML" in lines[0] and "line 3" in lines[0]

    assert "cannot read" in assert_clean_error(cli("submit", str(tmp_path / "missing.yaml")), 2)[0]

    unknown = write(tmp_path / "unknown.yaml", "name: x\ncommand: echo\nresources: {accelerators: Z9000}\n")
    lines = assert_clean_error(cli("submit", str(unknown)), 2)
    assert "422" in lines[0] and any("resources.accelerators[0]" in line for line in lines)


def test_dry_run_needs_no_server(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    nowhere = f"http://127.0.0.1:{free_port()}"
    file = write(tmp_path / "jobs.yaml", JOBS.format(prefix="dry"))
    as_json = cli("submit", str(file), "--dry-run", "-o", "json", server_url=nowhere)
    assert as_json.exit_code == 0, as_json.stderr
    specs = as_json.json()
    assert [s["resources"]["accelerators"][0]["model"] for s in specs] == ["A100-80G", "Ascend910B"]
    assert "nothing was submitted" in as_json.stderr

    as_yaml = cli("submit", str(file), "--dry-run", server_url=nowhere)
    assert as_yaml.exit_code == 0 and "model: Ascend910B" in as_yaml.stdout

    unknown = write(tmp_path / "unknown.yaml", "name: x\ncommand: echo\nresources: {accelerators: Z9000}\n")
    lines = assert_clean_error(cli("submit", str(unknown), "--dry-run", server_url=nowhere), 2)
    assert any("resources.accelerators[0]" in line for line in lines)


def test_an_unreachable_server_exits_3(cli) -> None:  # type: ignore[no-untyped-def]
    lines = assert_clean_error(cli("jobs", server_url=f"http://127.0.0.1:{free_port()}"), 3)
    assert "cannot reach the Suanli server" in lines[0] and "suanli server" in lines[0]
