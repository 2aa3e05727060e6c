"""Real ``suanli server`` processes for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def token(self) -> str:
        """The admin token the server made for its new home (several servers on one database:
        the first one's home holds it)."""
        return (self.home / "token").read_text().strip()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(home: Path, *, listen_port: int | None = None, **settings: str) -> Server:
    """Starts a server with SUANLI_HOME=home (and SUANLI_<KEY>=value for each setting) and waits
    until it answers; its output goes to home/server.log. ``listen_port`` (default: a free one)
    lets a test restart a server where its clients expect it."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
    env["SUANLI_HOME"] = str(home)
    env["SUANLI_SCHEDULER_INTERVAL_S"] = "0.1"
    env.update({f"SUANLI_{key.upper()}": value for key, value in settings.items()})
    port = listen_port or free_port()
    with (home / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "suanli.adapters.cli.main", "server", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", home, process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{(home / 'server.log').read_text()}")
        try:
            if httpx.get(f"{server.url}/api/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"the server did not answer within 30 s:\n{(home / 'server.log').read_text()}")
        time.sleep(0.1)
