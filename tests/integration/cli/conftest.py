"""A real `suanli server` in a subprocess (SQLite under tmp), and the CLI run against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from tests.servers import Server, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("suanli-home"))
    yield running
    running.stop()


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``cli("jobs", "-o", "json")`` runs `suanli --server URL --token ADMIN jobs -o json` in this
    process, signed in as the server's first admin."""
    return command_line(server, monkeypatch, tmp_path, ["--token", server.token])


@pytest.fixture
def anonymous_cli(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """As ``cli``, with no token but what the client's own home holds."""
    return command_line(server, monkeypatch, tmp_path, [])


def command_line(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, signed: list[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SUANLI_HOME", str(tmp_path / "client-home"))
    monkeypatch.delenv("SUANLI_SERVER", raising=False)
    monkeypatch.delenv("SUANLI_TOKEN", raising=False)
    runner = CliRunner()

    def run(*args: str, server_url: str | None = None) -> Run:
        result = runner.invoke(app, ["--server", server_url or server.url, *signed, *args], env={"COLUMNS": "200"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def center_yaml(name: str, accelerator: str = "A100", per_node: int = 8, nodes: int = 2, price: float = 10) -> str:
    return f"""\
name: {name}
owner: {name} org
kind: ai
region: qingdao
pools:
  - name: main
    accelerator: {accelerator}
    accelerators_per_node: {per_node}
    cpus_per_node: 96
    memory_gb_per_node: 1024
    nodes: {nodes}
    price_per_accelerator_hour: {price}
"""


def assert_clean_error(run: Run, code: int) -> list[str]:
    """A failed command: the given exit code, nothing on stdout, 'error: ...' first, no traceback."""
    assert run.exit_code == code, (run.exit_code, run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines
