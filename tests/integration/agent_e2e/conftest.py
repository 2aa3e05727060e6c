"""A real `suanli server` and real `suanli agent` processes (tests/servers.py): nothing mocked.

Agents run in their own sessions, so a test can kill -9 one; every process a fixture started,
and every attempt process a test recorded, is killed (by process group) at teardown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from suanli.client import JobOut, SuanliClient
from tests.servers import Server, start_server

MODEL = "A100-80G"
DECLARED = f"{MODEL}:2"
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class AgentProcess:
    center: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@dataclass
class Cluster:
    server: Server
    client: SuanliClient
    root: Path
    agents: list[AgentProcess] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)  # attempt processes to kill at teardown

    def add_center(self, name: str) -> str:
        """Registers ``name`` (its pool is what the agent will declare) and returns a token."""
        pool = {
            "name": f"declared-{MODEL.lower()}",
            "accelerator": MODEL,
            "accelerators_per_node": 2,
            "cpus_per_node": 4,
            "memory_gb_per_node": 8,
            "nodes": 1,
            "price_per_accelerator_hour": 1,
        }
        self.client.add_center({"name": name, "owner": "test", "kind": "ai", "region": "test", "pools": [pool]})
        return self.client.mint_center_token(name).token

    def start_agent(
        self,
        center: str,
        token: str,
        accelerators: str = DECLARED,
        timeout_s: float = 30,
        backend: tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
        via: str | None = None,
        env_token: bool = True,
    ) -> AgentProcess:
        """A real `suanli agent` for ``center``, run in its own work dir; returns once it said hello.
        ``backend``: other options in place of ``--accelerators`` (``--backend slurm ...``);
        ``via``: the URL it reaches the server at (a proxy), if not the server's own;
        ``env_token``: the token in SUANLI_AGENT_TOKEN (else ``backend`` says where it is)."""
        work = self.root / f"agent-{center}"
        work.mkdir(parents=True, exist_ok=True)
        log = work / "agent.log"
        # A restarted agent appends to its predecessor's log: wait for a hello of its own.
        hellos = log.read_text(errors="replace").count("serving center") if log.exists() else 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
        if env_token:
            env["SUANLI_AGENT_TOKEN"] = token
        env["PYTHONUNBUFFERED"] = "1"
        env["SUANLI_HOME"] = str(work)
        # Jobs that run `python3` get this interpreter (and its packages), virtualenv or not.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env |= extra_env or {}
        chosen = list(backend) or ["--accelerators", accelerators]
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "suanli.adapters.cli.main", "agent", "--server", via or self.server.url]
                + [*chosen, "--work-dir", str(work), "--cancel-grace", "2"],
                cwd=work,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        agent = AgentProcess(center, process, log)
        self.agents.append(agent)
        deadline = time.monotonic() + timeout_s
        while agent.output().count("serving center") <= hellos:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the agent did not connect:\n{agent.output()}")
            time.sleep(0.05)
        return agent

    def restart_server(self, **settings: str) -> None:
        """kill -9 the server, then start it again on the same port and database."""
        port = int(self.server.url.rsplit(":", 1)[1])
        self.server.process.kill()
        self.server.process.wait(10)
        self.server = start_server(self.server.home, listen_port=port, **(SERVER_SETTINGS | settings))

    def submit(self, command: str | list[str], **extra: Any) -> JobOut:
        spec = {"name": "e2e", "command": command, "resources": {"accelerators": f"{MODEL}:1"}, **extra}
        return self.client.submit(spec)

    def wait_for(self, job_id: int, check: Callable[[JobOut], bool], timeout: float = 10) -> JobOut:
        deadline = time.monotonic() + timeout
        while True:
            job = self.client.get_job(job_id)
            if check(job):
                return job
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {a.center}:\n{a.output()}" for a in self.agents)
                pytest.fail(f"job {job_id} is {job.status} ({job.message!r}) after {timeout}s\n{logs}")
            time.sleep(0.05)

    def wait_status(self, job_id: int, *statuses: str, timeout: float = 10) -> JobOut:
        return self.wait_for(job_id, lambda job: job.status in statuses, timeout)

    def kill_attempt_processes(self) -> None:
        """kill -9 of every local attempt's supervisor and ranks, as a crash of the machine would.
        Local attempts outlive their agents (each under a supervisor in a session of its own):
        whatever a test left running goes too. Only a test may signal by pid like this."""
        for pids in self.root.glob("agent-*/attempts/*/pids"):
            try:
                supervisor, *ranks = pids.read_text().splitlines()
            except (FileNotFoundError, ValueError):  # cleaned up meanwhile, or not written yet
                continue
            for rank in ranks:
                kill_group(int(rank.split()[1]))
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(supervisor), signal.SIGKILL)

    def close(self) -> None:
        for agent in self.agents:
            kill_group(agent.process.pid)
            if agent.process.poll() is None:
                agent.process.kill()
            agent.process.wait(10)
        for pid in self.pids:
            kill_group(pid)
        self.kill_attempt_processes()
        self.client.close()
        # Killed, not stopped: uvicorn's graceful stop would wait out long polls still in flight.
        self.server.process.kill()
        self.server.process.wait(10)


SERVER_SETTINGS = {"agent_offline_after_s": "2", "agent_heartbeat_s": "0.5"}


@contextlib.contextmanager
def running_cluster(root: Path, **settings: str) -> Iterator[Cluster]:
    """A server under ``root`` with these settings, and a client; every process closed after."""
    server = start_server(root / "server", **settings)
    cluster = Cluster(server, SuanliClient(server.url, token=server.token, timeout=30), root)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path, **SERVER_SETTINGS) as cluster:
        yield cluster


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie waiting for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout}s")
        time.sleep(0.05)
    return path.read_text().strip()
