"""`suanli login`, `whoami`, `token ...`, `org`, `project`, `member` against a real server, which
bootstrapped its first admin's token into its home."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from suanli.client import SuanliClient, SuanliTokenError
from tests.integration.cli.conftest import assert_clean_error
from tests.servers import Server


@pytest.fixture
def cli(anonymous_cli):  # type: ignore[no-untyped-def]
    """These tests sign in themselves."""
    return anonymous_cli


def admin_token(server: Server) -> str:
    return (server.home / "token").read_text().strip()


def client_token_file() -> Path:
    return Path(os.environ["SUANLI_HOME"]) / "token"


def test_the_server_made_an_admin_and_said_where_its_token_is(server: Server) -> None:
    path = server.home / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert admin_token(server).startswith("sk_")
    log = (server.home / "server.log").read_text()
    assert f"The admin's API token is in {path}" in log and "suanli whoami" in log


def test_login_checks_the_token_and_keeps_it_privately(cli, server: Server) -> None:  # type: ignore[no-untyped-def]
    refused = cli("whoami")  # no token yet in this client's home
    lines = assert_clean_error(refused, 1)
    assert "401" in lines[0] and "suanli login" in lines[0]

    bad = cli("login", "--token", "sk_" + "x" * 43)
    assert "not known here" in assert_clean_error(bad, 1)[0]
    assert not client_token_file().exists()

    done = cli("login", "--token", admin_token(server))
    assert done.exit_code == 0, done.stderr
    assert "as admin (user) of default, platform-admin" in done.stdout
    assert client_token_file().read_text().strip() == admin_token(server)
    assert stat.S_IMODE(client_token_file().stat().st_mode) == 0o600

    who = cli("whoami", "-o", "json").json()
    assert (who["name"], who["organization"], who["roles"]) == ("admin", "default", ["platform-admin"])
    assert "org.manage" in who["permissions"]
    table = cli("whoami")
    assert table.exit_code == 0 and "platform-admin" in table.stdout


def test_token_create_list_revoke(cli, server: Server) -> None:  # type: ignore[no-untyped-def]
    admin = ["--token", admin_token(server)]
    made = cli(*admin, "token", "create", "laptop", "--scope", "submit", "--expires", "30d")
    assert made.exit_code == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n" and token.startswith("sk_")  # alone on stdout: $(suanli token create)
    assert "not shown again" in made.stderr

    listed = cli(*admin, "token", "list", "-o", "json").json()
    assert listed["next_cursor"] is None
    mine = {t["name"]: t for t in listed["items"]}
    assert mine["laptop"]["scopes"] == ["submit"] and mine["laptop"]["state"] == "active"
    assert mine["laptop"]["expires_at"] is not None and mine["bootstrap"]["expires_at"] is None
    assert all("token" not in t for t in listed["items"])  # secrets are never listed
    assert "laptop" in cli(*admin, "token", "list").stdout

    as_laptop = cli("--token", token, "whoami", "-o", "json").json()
    assert as_laptop["scopes"] == ["submit"] and "org.manage" not in as_laptop["permissions"]

    prefix = mine["laptop"]["prefix"]
    revoked = cli(*admin, "token", "revoke", prefix)
    assert revoked.exit_code == 0 and f"revoked token {prefix}" in revoked.stdout
    assert "revoked" in assert_clean_error(cli("--token", token, "whoami"), 1)[0]
    assert_clean_error(cli(*admin, "token", "revoke", "nope1234"), 1)

    assert assert_clean_error(cli(*admin, "token", "create", "x", "--expires", "soon"), 2)[0].startswith(
        "error: --expires:"
    )


def test_organizations_projects_members_and_a_service_accounts_token(cli, server: Server) -> None:  # type: ignore[no-untyped-def]
    admin = ["--token", admin_token(server)]
    added = cli(*admin, "org", "add", "acme-lab", "--kind", "lab", "--display-name", "Acme Lab")
    assert added.exit_code == 0, added.stderr
    assert "acme-lab" in [o["name"] for o in cli(*admin, "org", "list", "-o", "json").json()["items"]]
    assert cli(*admin, "project", "add", "vision", "--org", "acme-lab").exit_code == 0
    projects = cli(*admin, "project", "list", "--org", "acme-lab", "-o", "json").json()["items"]
    assert projects == [{"organization": "acme-lab", "name": "vision"}]
    assert "default/default" in cli(*admin, "project", "list").stdout  # the token's organization

    bot = cli(*admin, "member", "add", "lab-bot", "--service", "--org", "acme-lab", "--role", "member", "-o", "json")
    assert bot.json()["kind"] == "service" and bot.json()["roles"] == ["member"]
    made = cli(*admin, "token", "create", "ci", "--for", "lab-bot", "--scope", "submit", "-o", "json").json()
    assert (made["principal"], made["organization"], made["scopes"]) == ("lab-bot", "acme-lab", ["submit"])
    who = cli("--token", made["token"], "whoami", "-o", "json").json()
    assert (who["name"], who["kind"], who["organization"]) == ("lab-bot", "service", "acme-lab")
    # A submit token of a member: it reads its own organization only, and manages nothing.
    assert [o["name"] for o in cli("--token", made["token"], "org", "list", "-o", "json").json()["items"]] == [
        "acme-lab"
    ]
    refused = cli("--token", made["token"], "org", "add", "other", "--kind", "lab")
    assert "403" in assert_clean_error(refused, 1)[0]

    taken = cli(*admin, "member", "remove", "lab-bot", "--org", "acme-lab", "--role", "member")
    assert taken.exit_code == 0 and "lab-bot now holds no role in acme-lab" in taken.stdout
    assert "403" in assert_clean_error(cli("--token", made["token"], "jobs"), 1)[0]  # the role's reads are gone


def test_a_token_file_others_may_read_is_refused_in_one_line(cli, server: Server) -> None:  # type: ignore[no-untyped-def]
    path = client_token_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(admin_token(server) + "\n")
    path.chmod(0o644)
    lines = assert_clean_error(cli("whoami"), 2)
    assert f"chmod 600 {path}" in lines[0]
    path.chmod(0o600)
    assert cli("whoami").exit_code == 0


def test_the_sdk_takes_a_token_or_finds_one(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUANLI_HOME", str(tmp_path))
    monkeypatch.delenv("SUANLI_TOKEN", raising=False)
    with SuanliClient(server.url) as client:
        assert client.token is None
        assert client.health().status  # the health check needs no token
    with SuanliClient(server.url, admin_token(server)) as client:
        assert client.whoami().name == "admin"
    monkeypatch.setenv("SUANLI_TOKEN", admin_token(server))
    with SuanliClient(server.url) as client:
        assert client.whoami().name == "admin"
    monkeypatch.delenv("SUANLI_TOKEN")
    (tmp_path / "token").write_text(admin_token(server))
    (tmp_path / "token").chmod(0o640)
    with pytest.raises(SuanliTokenError, match="chmod 600"):
        SuanliClient(server.url)


def test_a_password_set_by_an_admin_signs_the_cli_in(cli, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    admin = ["--token", admin_token(server)]
    assert cli(*admin, "member", "add", "alice", "--org", "default", "--role", "member").exit_code == 0
    monkeypatch.setenv("SUANLI_PASSWORD", "a long enough passphrase")
    done = cli(*admin, "member", "password", "alice")
    assert done.exit_code == 0, done.stderr
    assert "alice has a new password" in done.stdout
    members = cli(*admin, "member", "list", "-o", "json").json()["items"]
    assert {m["name"]: m["roles"] for m in members}["alice"] == ["member"]
    assert "alice" in cli(*admin, "member", "list").stdout

    signed = cli("login", "--password", "--user", "alice")
    assert signed.exit_code == 0, signed.stderr
    assert "as alice (user) of default, member" in signed.stdout
    assert cli("whoami", "-o", "json").json()["name"] == "alice"  # the kept token is alice's
    kept = client_token_file().read_text().strip()
    assert kept.startswith("sk_") and kept != admin_token(server)
    tokens = cli("token", "list", "-o", "json").json()["items"]
    assert [(t["name"], t["kind"]) for t in tokens] == [("cli-login", "api")]

    monkeypatch.setenv("SUANLI_PASSWORD", "not the passphrase")
    refused = cli("login", "--password", "--user", "alice")
    assert "wrong name or password" in assert_clean_error(refused, 1)[0]
    assert client_token_file().read_text().strip() == kept  # a refused sign-in keeps what was kept
