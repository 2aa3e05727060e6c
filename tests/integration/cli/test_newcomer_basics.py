"""Small things a first-time user meets: the version, a URL that is not Suanli, the agent finding
the server as every other command does."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import suanli
from suanli.adapters.cli.main import app
from tests.integration.cli.conftest import Run, assert_clean_error
from tests.servers import Server


def test_version_prints_the_release_and_exits() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"suanli {suanli.__version__}"


@pytest.fixture
def web_page() -> Iterator[str]:
    """A web server that is not Suanli: an HTML page for every path."""

    class Page(http.server.BaseHTTPRequestHandler):
        def _page(self) -> None:
            body = b"<!doctype html><html><body>" + b"<p>welcome</p>" * 200 + b"</body></html>"
            self.send_response(404 if "missing" in self.path else 200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _page

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("args", [["jobs"], ["center", "list"], ["job", "show", "1"], ["logs", "1"]])
def test_a_url_that_is_not_suanli_gives_one_line(cli, web_page: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    run: Run = cli(*args, server_url=web_page)
    [line] = assert_clean_error(run, 3)
    assert f"the server at {web_page} is not a Suanli server" in line
    assert "text/html" in line and "<" not in line


def test_the_agent_finds_the_server_as_every_command_does(server: Server, tmp_path: Path) -> None:
    """No --server on `suanli agent`: SUANLI_SERVER is used (before, the option was required)."""
    env = {"SUANLI_SERVER": server.url, "SUANLI_AGENT_TOKEN": "sl_not-a-token", "SUANLI_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "suanli.adapters.cli.main", "agent", "--work-dir", str(tmp_path / "work")],
        env={k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # It reached the server there: the server refused the unknown token, in one line.
    assert done.returncode != 0
    assert "token" in done.stderr and "Traceback" not in done.stderr
    assert "refused" in done.stderr


def test_logs_of_a_job_that_has_not_started_says_so(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "waits.yaml"
    spec.write_text("name: waits\ncommand: [python, -V]\nconstraints: {centers: [nowhere-yet]}\n")
    [job] = cli("submit", str(spec), "--allow-unfit", "-o", "json").json()["items"]
    shown = cli("logs", str(job["id"]))
    assert shown.exit_code == 0 and shown.stdout == ""
    assert f"job {job['id']} has not started (PENDING" in shown.stderr and "-f waits for it" in shown.stderr


@pytest.mark.parametrize(("words", "expected"), [("suanli ce", "center"), ("suanli center d", "drain")])
def test_shell_completion_completes_commands(words: str, expected: str) -> None:
    """What `suanli --install-completion` installs asks the command itself for completions."""
    suanli_command = Path(sys.executable).with_name("suanli")  # the console script pip installed
    script = subprocess.run([suanli_command, "--show-completion", "bash"], capture_output=True, text=True, check=True)
    assert "_SUANLI_COMPLETE=complete_bash" in script.stdout
    cword = str(len(words.split()) - 1)
    env = os.environ | {"_SUANLI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
    offered = subprocess.run([suanli_command], env=env, capture_output=True, text=True, check=True)
    assert expected in offered.stdout.split()


def test_server_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "suanli.adapters.cli.main", "server", "--port", str(port)],
            env=os.environ | {"SUANLI_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1 and done.stdout == ""  # no "serving on": it never served
    assert done.stderr == f"error: port {port} on 127.0.0.1 is in use; pass --port or stop the other process\n"


def test_the_servers_socket_reads_as_tcp_so_answers_are_not_held_back() -> None:
    """asyncio turns Nagle's algorithm off only on sockets whose protocol reads as TCP; without it
    every answer waits for the client's delayed ACK (23 instead of 800 jobs/s in bench_api)."""
    from suanli.adapters.cli.serving import listen

    listener = listen("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()
