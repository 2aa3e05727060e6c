"""`suanli center ...` against a real server."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli.conftest import assert_clean_error, center_yaml, write


def test_add_list_show_from_a_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    added = cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("cli-file", "A100", 8, 2))))
    assert added.exit_code == 0, added.stderr
    assert "cli-file" in added.stdout and "A100-80G" in added.stdout

    listed = cli("center", "list", "-o", "json")
    assert listed.exit_code == 0
    names = {c["name"]: c for c in listed.json()["items"]}
    assert names["cli-file"]["total_accelerators"] == 16

    table = cli("center", "list")
    # No agent has connected yet: the center is not called ONLINE, and its agent column says so.
    assert "cli-file" in table.stdout and "NO_AGENT" in table.stdout and "never" in table.stdout
    assert names["cli-file"]["state"] == "ONLINE" and names["cli-file"]["condition"] == "NO_AGENT"
    assert names["cli-file"]["agent"] == "never" and names["cli-file"]["agent_last_seen"] is None

    shown = cli("-o", "json", "center", "show", "cli-file")
    assert shown.json()["pools"][0]["accelerator"] == "A100-80G"
    assert shown.json()["pools"][0]["free_accelerators"] == 16


def test_add_a_one_pool_center_from_flags(cli) -> None:  # type: ignore[no-untyped-def]
    args = ["--name", "cli-flags", "--owner", "Lab", "--kind", "hpc", "--region", "jinan", "--accelerator", "V100"]
    args += ["--per-node", "4", "--nodes", "3", "--cpus", "32", "--memory", "256", "--price", "2.5"]
    added = cli("center", "add", *args, "-o", "json")
    assert added.exit_code == 0, added.stderr
    body = added.json()
    assert (body["kind"], body["region"], body["total_accelerators"]) == ("hpc", "jinan", 12)
    assert body["pools"][0]["name"] == "default"

    incomplete = cli("center", "add", "--name", "cli-half", "--accelerator", "V100")
    lines = assert_clean_error(incomplete, 2)
    assert any("owner" in line for line in lines) and any("pools.0.nodes" in line for line in lines)


def test_pools_drain_resume_delete(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("cli-ops"))))
    pools = write(
        tmp_path / "pools.yaml",
        """\
pools:
  - {name: l40s, accelerator: L40S, accelerators_per_node: 4, cpus_per_node: 64,
     memory_gb_per_node: 512, nodes: 5, price_per_accelerator_hour: 3}
""",
    )
    replaced = cli("center", "pools", "cli-ops", str(pools), "-o", "json")
    assert replaced.exit_code == 0, replaced.stderr
    assert [p["name"] for p in replaced.json()["pools"]] == ["l40s"]

    assert cli("center", "drain", "cli-ops", "-o", "json").json()["state"] == "DRAINING"
    assert cli("center", "resume", "cli-ops", "-o", "json").json()["state"] == "ONLINE"
    deleted = cli("center", "delete", "cli-ops")
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout

    missing = assert_clean_error(cli("center", "show", "cli-ops"), 1)
    assert "cli-ops" in missing[0] and "404" in missing[0]


def test_bad_center_files_exit_2_naming_the_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = write(tmp_path / "bad.yaml", center_yaml("cli-bad").replace("nodes: 2", "nodes: -2"))
    lines = assert_clean_error(cli("center", "add", str(bad)), 2)
    text = "\n".join(lines)
    assert "bad.yaml" in text and "pools[0].nodes" in text and "line 11" in text

    unknown = write(tmp_path / "unknown.yaml", center_yaml("cli-unknown", accelerator="Z9000"))
    lines = assert_clean_error(cli("center", "add", str(unknown)), 2)
    assert "pools[0].accelerator" in "\n".join(lines) and "422" in lines[0]

    both = assert_clean_error(cli("center", "add", str(bad), "--name", "x"), 2)
    assert "not both" in both[0]

    taken = write(tmp_path / "taken.yaml", center_yaml("cli-taken"))
    assert cli("center", "add", str(taken)).exit_code == 0
    assert "already exists" in assert_clean_error(cli("center", "add", str(taken)), 1)[0]


def test_token_prints_a_new_token_each_time(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("cli-token"))))
    first = cli("center", "token", "cli-token")
    assert first.exit_code == 0, first.stderr
    token = first.stdout.strip()
    assert token.startswith("sl_") and first.stdout == token + "\n"
    second = cli("center", "token", "cli-token", "-o", "json")
    assert second.json()["center"] == "cli-token" and second.json()["token"] not in (token, "")

    missing = cli("center", "token", "cli-nowhere")
    assert any("cli-nowhere" in line for line in assert_clean_error(missing, missing.exit_code))


def test_token_rotate_and_revoke(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("cli-rotate"))))
    cli("center", "token", "cli-rotate")
    cli("center", "token", "cli-rotate")
    rotated = cli("center", "token", "cli-rotate", "--rotate")
    assert rotated.exit_code == 0, rotated.stderr
    assert rotated.stdout.strip().startswith("sl_") and rotated.stdout.count("\n") == 1  # the token alone
    assert "revoked 2 older token(s)" in rotated.stderr
    revoked = cli("center", "token", "cli-rotate", "--revoke", "-o", "json")
    assert revoked.json() == {"center": "cli-rotate", "revoked": 1}
    both = cli("center", "token", "cli-rotate", "--rotate", "--revoke")
    assert any("--revoke" in line for line in assert_clean_error(both, 2))
