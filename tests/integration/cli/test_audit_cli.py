"""`suanli audit` and `suanli audit verify` against a real server, on SQLite and PostgreSQL: a row
edited or deleted directly in the database is named by its sequence number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from suanli.adapters.storage.engine import make_engine
from tests.integration.cli.conftest import Run, center_yaml, write
from tests.integration.storage.conftest import postgres_schema_url
from tests.servers import Server, start_server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'suanli.db'}"
        return
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path / "home", database_url=database_url)
    yield running
    running.stop()


@pytest.fixture
def suanli(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SUANLI_HOME", str(tmp_path / "client-home"))
    monkeypatch.delenv("SUANLI_SERVER", raising=False)
    token = server.home / "token"  # the first admin's, where the server writes it (if it does)
    if token.exists():
        monkeypatch.setenv("SUANLI_TOKEN", token.read_text().strip())
    runner = CliRunner()

    def run(*args: str) -> Run:
        result = runner.invoke(app, ["--server", server.url, *args], env={"COLUMNS": "200"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


def test_edited_and_deleted_rows_are_named(suanli, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("audit-a", "audit-b", "audit-c"):
        assert suanli("center", "add", str(write(tmp_path / f"{name}.yaml", center_yaml(name)))).exit_code == 0
    assert suanli("center", "drain", "audit-b").exit_code == 0
    assert suanli("center", "drain", "nowhere").exit_code == 1  # refused (404): recorded all the same

    listed = suanli("audit", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    items = listed.json()["items"]
    mine = [e for e in items if e["action"].startswith("POST /api/v1/centers")]
    assert [(e["target"], e["result"]) for e in reversed(mine)] == [
        ("centers", "201"),
        ("centers", "201"),
        ("centers", "201"),
        ("centers/audit-b", "200"),
        ("centers/nowhere", "404"),
    ]
    assert all(e["request_id"] and e["client"] == "127.0.0.1" for e in mine)
    filtered = suanli("audit", "--action", "POST /api/v1/centers/", "--result", "404", "-o", "json").json()
    assert [e["target"] for e in filtered["items"]] == ["centers/nowhere"]
    assert "centers/nowhere" in suanli("audit", "--since", "1h").stdout

    intact = suanli("audit", "verify")
    assert intact.exit_code == 0, intact.stderr
    assert "intact" in intact.stdout

    drained = next(e for e in mine if e["target"] == "centers/audit-b")
    sequence = drained["sequence"]
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE audit_log SET target = 'centers/audit-c' WHERE sequence = :n"), {"n": sequence}
            )
        edited = suanli("audit", "verify")
        assert edited.exit_code == 1
        assert edited.stdout == ""
        problems = edited.stderr.splitlines()[1:]
        assert len(problems) == 1 and f"entry {sequence} was changed" in problems[0], edited.stderr

        as_json = suanli("audit", "verify", "-o", "json")
        assert as_json.exit_code == 1
        body = json.loads(as_json.stdout)
        assert body["ok"] is False
        assert [(p["sequence"], p["kind"]) for p in body["problems"]] == [(sequence, "edited")]

        with engine.begin() as connection:  # as it was: intact again
            connection.execute(
                text("UPDATE audit_log SET target = 'centers/audit-b' WHERE sequence = :n"), {"n": sequence}
            )
        assert suanli("audit", "verify").exit_code == 0

        with engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_log WHERE sequence = :n"), {"n": sequence})
        deleted = suanli("audit", "verify")
        assert deleted.exit_code == 1
        problems = deleted.stderr.splitlines()[1:]
        assert len(problems) == 1 and f"entry {sequence} is missing" in problems[0], deleted.stderr
    finally:
        engine.dispose()


def test_the_first_admin_is_the_first_entry(suanli) -> None:  # type: ignore[no-untyped-def]
    """No request made the first admin (the server did, on its new home): the log says so itself."""
    entries = suanli("audit", "--action", "principal.", "-o", "json").json()["items"]
    assert [(e["sequence"], e["actor"], e["action"], e["target"]) for e in entries] == [
        (1, "system", "principal.bootstrap", "principals/admin")
    ]
