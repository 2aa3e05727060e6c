"""A real `suanli server` in a subprocess (SQLite under tmp), and the CLI run against it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from suanli.adapters.cli.main import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    home: Path
    process: subprocess.Popen[bytes]


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["SUANLI_HOME"] = str(home)
    env["SUANLI_SCHEDULER_INTERVAL_S"] = "0.1"
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("suanli-home")
    port = free_port()
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "suanli.adapters.cli.main", "server", "--port", str(port)],
        env=_clean_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{(home / 'server.log').read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not answer within 30 s:\n{(home / 'server.log').read_text()}")
        time.sleep(0.1)
    yield Server(url, home, process)
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``cli("jobs", "-o", "json")`` runs `suanli --server URL jobs -o json` in this process."""
    monkeypatch.setenv("SUANLI_HOME", str(tmp_path / "client-home"))
    monkeypatch.delenv("SUANLI_SERVER", raising=False)
    runner = CliRunner()

    def run(*args: str, server_url: str | None = None) -> Run:
        result = runner.invoke(app, ["--server", server_url or server.url, *args], env={"COLUMNS": "200"})
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
