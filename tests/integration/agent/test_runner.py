"""The agent loop (suanli.agent.runner) against a scripted server and a real LocalExecutor:
reconnects after transport errors, reports each state once, obeys fencing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from suanli.agent.client import (
    AgentApiError,
    AgentClient,
    AgentTransportError,
    Assignment,
    Assignments,
    HelloAnswer,
    LogOffsetMismatch,
    StaleAttempt,
)
from suanli.agent.executor import AttemptKey, owner_tag
from suanli.agent.runner import Agent, AgentFatal
from suanli.domain.centers import Pool
from tests.integration.agent.conftest import MakeExecutor


def assignment(job_id: int, command: str, attempt: int = 1) -> Assignment:
    return Assignment(AttemptKey(job_id, attempt), "t", command, {}, None, "", "CPU", 0, 1, None)


class ScriptedServer(AgentClient):
    """Answers like the server; ``down`` makes every call a transport error."""

    def __init__(self, token: str = "scripted-token") -> None:
        self.server = "http://scripted"
        self.owner = owner_tag(token)
        self.down = False
        self.hellos: list[list[AttemptKey]] = []
        self.reports: list[tuple[AttemptKey, str, int | None]] = []
        self.pending: list[Assignment] = []
        self.cancel: list[AttemptKey] = []
        self.kill: list[AttemptKey] = []
        self.stale: set[AttemptKey] = set()
        self.refuse_hello: int | None = None
        self.problems: list[str] = []  # the backend problem of each hello and heartbeat
        self.logs: dict[AttemptKey, bytes] = {}  # what the server stored, checked like the server
        self.lock = threading.Lock()

    def _check(self) -> None:
        if self.down:
            raise AgentTransportError("connection refused")

    def hello(self, pools: list[Pool], running: list[AttemptKey], problem: str = "") -> HelloAnswer:
        self._check()
        self.problems.append(problem)
        if self.refuse_hello is not None:
            raise AgentApiError(self.refuse_hello, "bad token")
        self.hellos.append(running)
        return HelloAnswer("lab", 0.1, 1.0, list(self.kill))

    def heartbeat(self, running: list[AttemptKey], problem: str = "") -> list[AttemptKey]:
        self._check()
        self.problems.append(problem)
        return [key for key in self.kill if key in running]

    def assignments(self, wait_s: float) -> Assignments:
        self._check()
        with self.lock:
            out, self.pending = Assignments(self.pending, self.cancel), []
            self.cancel = []
        if not out.assignments and not out.cancel:
            time.sleep(0.05)
        return out

    def report(self, key: AttemptKey, state: str, exit_code: int | None = None, message: str = "") -> None:
        self._check()
        if key in self.stale:
            raise StaleAttempt(409, f"stale attempt {key}")
        self.reports.append((key, state, exit_code))

    def ship_logs(self, key: AttemptKey, offset: int, data: bytes) -> int:
        self._check()
        if key in self.stale:
            raise StaleAttempt(409, f"stale attempt {key}")
        stored = self.logs.get(key, b"")
        if offset == len(stored):
            self.logs[key] = stored + data
            return len(stored) + len(data)
        if offset + len(data) <= len(stored):
            return len(stored)
        raise LogOffsetMismatch(409, "offset mismatch", len(stored))


@pytest.fixture
def run_agent(make_executor: MakeExecutor) -> Iterator[Callable[[ScriptedServer], Agent]]:
    stops: list[tuple[threading.Event, threading.Thread]] = []

    def start(server: ScriptedServer) -> Agent:
        agent = Agent(server, make_executor(declared="CPU:2"), poll_s=0.05, max_backoff_s=0.2, cancel_grace_s=1)
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        thread.start()
        stops.append((stop, thread))
        return agent

    yield start
    for stop, thread in stops:
        stop.set()
        thread.join(5)


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:  # a guard against hanging, not a measurement
            pytest.fail(f"condition not met in {timeout} s")
        time.sleep(0.02)


def test_each_state_is_reported_once_in_order(run_agent: Callable[[ScriptedServer], Agent]) -> None:
    server = ScriptedServer()
    run_agent(server)
    server.pending = [assignment(1, "exit 0"), assignment(2, "exit 3")]
    eventually(lambda: len(server.reports) == 4)
    time.sleep(0.3)
    one = [(s, c) for k, s, c in server.reports if k.job_id == 1]
    two = [(s, c) for k, s, c in server.reports if k.job_id == 2]
    assert one == [("RUNNING", None), ("SUCCEEDED", 0)]
    assert two == [("RUNNING", None), ("FAILED", 3)]


def test_the_agent_survives_the_server_going_away_and_says_hello_again(
    run_agent: Callable[[ScriptedServer], Agent],
) -> None:
    server = ScriptedServer()
    run_agent(server)
    server.pending = [assignment(1, "sleep 0.5")]
    eventually(lambda: (AttemptKey(1, 1), "RUNNING", None) in server.reports)
    server.down = True
    time.sleep(1.0)  # the attempt ends while the server is away
    server.down = False
    eventually(lambda: (AttemptKey(1, 1), "SUCCEEDED", 0) in server.reports)
    assert len(server.hellos) >= 2
    assert AttemptKey(1, 1) in server.hellos[-1]  # ended but unreported: still ours, not LOST


def test_a_stale_attempt_is_stopped_and_never_reported_again(
    run_agent: Callable[[ScriptedServer], Agent],
) -> None:
    server = ScriptedServer()
    agent = run_agent(server)
    key = AttemptKey(1, 1)
    server.stale.add(key)
    server.pending = [assignment(1, "sleep 30")]
    eventually(lambda: not [s for s in agent.executor.poll() if s.key == key])  # cancelled, then forgotten
    assert server.reports == []


def test_kill_from_a_heartbeat_stops_the_attempt(run_agent: Callable[[ScriptedServer], Agent]) -> None:
    server = ScriptedServer()
    agent = run_agent(server)
    key = AttemptKey(1, 1)
    server.pending = [assignment(1, "sleep 30")]
    eventually(lambda: (key, "RUNNING", None) in server.reports)
    server.kill.append(key)
    eventually(lambda: not [s for s in agent.executor.poll() if s.key == key])
    eventually(lambda: [s for k, s, _ in server.reports if k == key] == ["RUNNING", "CANCELLED"])


def test_a_refused_token_ends_the_agent(make_executor: MakeExecutor) -> None:
    server = ScriptedServer()
    server.refuse_hello = 401
    agent = Agent(server, make_executor(declared="CPU:1"), poll_s=0.05)
    with pytest.raises(AgentFatal, match="bad token"):
        agent.run(threading.Event())


def test_output_is_shipped_before_the_end_is_reported(run_agent: Callable[[ScriptedServer], Agent]) -> None:
    server = ScriptedServer()
    key = AttemptKey(1, 1)
    server.logs[key] = b"one\n"  # e.g. shipped before the agent restarted: resumed, not duplicated
    run_agent(server)
    server.pending = [assignment(1, "echo one; sleep 0.3; echo two; sleep 0.3; echo three")]
    eventually(lambda: (key, "SUCCEEDED", 0) in server.reports)
    assert server.logs[key] == b"one\ntwo\nthree\n"


def test_a_stale_attempt_ships_no_output(run_agent: Callable[[ScriptedServer], Agent]) -> None:
    server = ScriptedServer()
    agent = run_agent(server)
    key = AttemptKey(1, 1)
    server.stale.add(key)
    server.pending = [assignment(1, "echo hi; sleep 30")]
    eventually(lambda: not [s for s in agent.executor.poll() if s.key == key])
    assert server.logs == {} and server.reports == []


def test_the_backends_health_goes_with_every_heartbeat(run_agent: Callable[[ScriptedServer], Agent]) -> None:
    server = ScriptedServer()
    agent = run_agent(server)
    eventually(lambda: len(server.problems) >= 2)
    assert set(server.problems) == {""}
    down = "the Slurm controller does not answer"
    agent.executor.healthy = lambda: down  # type: ignore[method-assign]
    eventually(lambda: server.problems[-1] == down)
    agent.executor.healthy = lambda: None  # type: ignore[method-assign]
    eventually(lambda: server.problems[-1] == "")
