"""The agent process: joins one executor to the server over the agent protocol.

Two threads share the work. ``run`` (the caller's thread) says hello, long-polls for
assignments and starts them; a monitor thread polls the executor every ``poll_s``, reports each
state change once, and sends heartbeats. Executor calls are serialized by one lock (the executor
interface expects one thread at a time).

Fencing: an attempt the server refuses (409/403/404) or tells us to ``kill`` is cancelled here
and never reported again. Transport errors never end the loop: the agent backs off (at most
``max_backoff_s``) and says hello again once the server answers. See docs/agent.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from suanli.agent.client import (
    AgentApiError,
    AgentClient,
    AgentTransportError,
    Assignment,
    HelloAnswer,
    LogOffsetMismatch,
    StaleAttempt,
)
from suanli.agent.executor import (
    AttemptKey,
    AttemptSpec,
    AttemptState,
    AttemptStatus,
    Executor,
    ExecutorRefused,
    Recovering,
)

log = logging.getLogger("suanli.agent")

LOG_CHUNK = 256 * 1024  # bytes of output read from the executor (and shipped) per call


class AgentFatal(Exception):
    """The server refused the agent itself (bad token, other protocol version): retrying won't help."""


class Agent:
    def __init__(
        self,
        client: AgentClient,
        executor: Executor,
        *,
        poll_s: float = 0.1,
        wait_s: float = 20.0,
        max_backoff_s: float = 2.0,
        cancel_grace_s: float = 10.0,
        on_first_hello: Callable[[HelloAnswer], None] | None = None,
    ) -> None:
        self.client = client
        self.executor = executor
        self.poll_s = poll_s
        self.wait_s = wait_s
        self.max_backoff_s = max_backoff_s
        self.cancel_grace_s = cancel_grace_s
        self.on_first_hello = on_first_hello
        self.center: str | None = None
        self.heartbeat_s = 5.0
        self._executor_lock = threading.Lock()
        self._report_lock = threading.Lock()  # one reporter at a time, so each change goes once
        self._reported: dict[AttemptKey, AttemptState] = {}  # the last state the server accepted
        self._fenced: set[AttemptKey] = set()  # the server answered 409: never report these again
        self._killed: set[AttemptKey] = set()  # the server said kill: report only how they ended
        self._shipped: dict[AttemptKey, int] = {}  # bytes of output the server holds, per attempt
        self._no_logs: set[AttemptKey] = set()  # the server refused their logs: ship no more
        self._connected = threading.Event()
        self._problem: str | None = None  # the last problem logged, so each is logged once
        self._backend = ""  # the backend's problem last reported ("" while healthy)

    # -- the loop --------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Serves until ``stop`` is set. Raises AgentFatal when the server refuses the agent."""
        monitor = threading.Thread(target=self._monitor, args=(stop,), name="suanli-agent-monitor", daemon=True)
        monitor.start()
        backoff = 0.0
        try:
            while not stop.is_set():
                try:
                    if not self._connected.is_set():
                        self._hello()
                    answer = self.client.assignments(self.wait_s)
                    for assignment in answer.assignments:
                        self._start(assignment)
                    for key in answer.cancel:
                        self._cancel(key, "the server cancelled it")
                    if answer.assignments:
                        self.sync()  # report RUNNING at once: submission -> RUNNING latency
                    backoff = 0.0
                except AgentTransportError as error:
                    self._lost(str(error))
                    backoff = min(self.max_backoff_s, max(0.1, backoff * 2))
                    stop.wait(backoff)
                except AgentApiError as error:
                    if error.status in (400, 401):
                        raise AgentFatal(f"the server refused this agent: {error.detail}") from error
                    self._problem_once(f"the server refused a request: {error}")
                    backoff = min(self.max_backoff_s, max(0.1, backoff * 2))
                    stop.wait(backoff)
        finally:
            stop.set()
            monitor.join(timeout=5)

    def _hello(self) -> HelloAnswer:
        if self.center is None and isinstance(self.executor, Recovering):
            # Before the first hello: attempts a previous agent of this center left running are
            # reported as ours, so the server keeps them instead of declaring them lost.
            with self._executor_lock:
                recovered = self.executor.recover(self.client.owner)
            if recovered:
                log.warning("took over %d attempt(s) a previous agent started: %s", len(recovered), recovered)
        pools = self.executor.pools()
        running = self._running()
        answer = self.client.hello(pools, running, self._backend_problem())
        self.heartbeat_s = answer.heartbeat_s
        if self._problem is not None:
            log.warning("reconnected to %s as center %s", self.client.server, answer.center)
        self._problem = None
        first, self.center = self.center is None, answer.center
        if first and self.on_first_hello is not None:
            self.on_first_hello(answer)
        self._connected.set()
        self._kill(answer.kill)
        return answer

    def _backend_problem(self) -> str:
        """What the executor says is wrong with its backend, logged when it changes."""
        with self._executor_lock:
            problem = self.executor.healthy() or ""
        if problem != self._backend:
            if problem:
                log.warning("%s: the backend is unhealthy, the center takes no new work: %s", self.center, problem)
            else:
                log.warning("%s: the backend is healthy again", self.center)
            self._backend = problem
        return problem

    def _lost(self, why: str) -> None:
        self._connected.clear()
        self._problem_once(f"cannot reach the server, retrying: {why}")

    def _problem_once(self, line: str) -> None:
        if line != self._problem:
            log.warning("%s", line)
            self._problem = line

    def _monitor(self, stop: threading.Event) -> None:
        next_heartbeat = time.monotonic()
        while not stop.wait(self.poll_s):
            try:
                self.sync()
                if self._connected.is_set() and time.monotonic() >= next_heartbeat:
                    self._kill(self.client.heartbeat(self._running(), self._backend_problem()))
                    next_heartbeat = time.monotonic() + self.heartbeat_s
            except AgentTransportError as error:
                self._lost(str(error))
                next_heartbeat = time.monotonic()
            except AgentApiError as error:
                self._problem_once(f"the server refused a heartbeat: {error}")
            except Exception:  # the monitor must outlive a bug in one report
                log.exception("unexpected error in the agent's monitor")

    # -- attempts --------------------------------------------------------------------------------

    def _start(self, assignment: Assignment) -> None:
        spec = AttemptSpec(
            key=assignment.key,
            name=assignment.name,
            command=assignment.command,
            env=assignment.env,
            workdir=assignment.workdir,
            pool=assignment.pool,
            accelerator=assignment.accelerator,
            accelerators_per_node=assignment.accelerators_per_node,
            nodes=assignment.nodes,
            time_limit_s=assignment.time_limit,
            owner=self.client.owner,
        )
        try:
            with self._executor_lock:
                self.executor.start(spec)
        except ExecutorRefused as refused:
            log.warning("refused %s: %s", spec.key, refused)
            self._send(spec.key, "REFUSED", None, str(refused))
            return
        log.info("%s: started %s (%s)", self.center, spec.key, spec.name)

    def _cancel(self, key: AttemptKey, why: str) -> None:
        log.info("%s: stopping %s: %s", self.center, key, why)
        with self._executor_lock:
            self.executor.cancel(key, self.cancel_grace_s)

    def _kill(self, keys: Iterable[AttemptKey]) -> None:
        keys = list(keys)
        if not keys:
            return
        known = {status.key for status in self._statuses()}
        for key in keys:
            if key in known and key not in self._killed:
                self._killed.add(key)
                self._cancel(key, "the server says it is no longer this center's")

    def _statuses(self) -> list[AttemptStatus]:
        with self._executor_lock:
            return self.executor.poll()

    def _running(self) -> list[AttemptKey]:
        """Attempts the server should consider ours: live here, or ended and not yet reported."""
        keys = []
        for status in self._statuses():
            if status.key in self._fenced:
                continue
            if not status.state.is_final or self._reported.get(status.key) is not status.state:
                keys.append(status.key)
        return sorted(keys)

    def sync(self) -> None:
        """Reports every state change the executor shows and the server has not accepted yet."""
        with self._report_lock:
            for status in self._statuses():
                self._sync_one(status)

    def _sync_one(self, status: AttemptStatus) -> None:
        key, state = status.key, status.state
        if key in self._fenced:
            if state.is_final:
                self._forget(key)
            return
        if key in self._killed:  # never RUNNING nor SUCCEEDED again: CANCELLED once it ended
            if state.is_final and self._connected.is_set():
                self._send(key, AttemptState.CANCELLED.value, status.exit_code, "stopped: the server moved on")
                self._forget(key)
            return
        if state is AttemptState.STARTING:
            return
        if not self._ship_logs(key, until_end=state.is_final):
            return  # the server could not take the final output yet: report the end later
        if self._reported.get(key) is state:
            return
        # a final state after no report at all: it ran, however briefly, so the timeline says when
        ran = state.is_final and state is not AttemptState.CANCELLED and key not in self._reported
        if ran and not self._send(key, AttemptState.RUNNING.value, None, ""):
            return
        if not self._send(key, state.value, status.exit_code, status.message):
            return
        if state.is_final:
            log.info(
                "%s: %s ended %s%s", self.center, key, state.value, f" ({status.message})" if status.message else ""
            )
            self._forget(key)

    def _ship_logs(self, key: AttemptKey, *, until_end: bool) -> bool:
        """Ships the attempt's new output: one chunk, or (``until_end``) all of it. False when an
        ended attempt's output could not all be shipped yet (not connected)."""
        if key in self._no_logs:
            return True
        if not self._connected.is_set():
            return not until_end
        offset = self._shipped.get(key, 0)
        while True:
            with self._executor_lock:
                data = self.executor.read_logs(key, offset, LOG_CHUNK)
            if not data:
                break
            try:
                offset = self.client.ship_logs(key, offset, data)
            except LogOffsetMismatch as mismatch:  # e.g. after a restart: the server says where it is
                offset = mismatch.expected_offset
                self._shipped[key] = offset
                continue
            except AgentApiError as error:  # stale attempt, or refused: its output stays here
                log.warning("the server refused the output of %s (%s); not shipping it any more", key, error.detail)
                self._no_logs.add(key)
                return True
            self._shipped[key] = offset
            if not until_end or len(data) < LOG_CHUNK:
                break
        return True

    def _send(self, key: AttemptKey, state: str, exit_code: int | None, message: str) -> bool:
        """Reports one state; True when the server took it (or it should never be sent again)."""
        if not self._connected.is_set():
            return False
        try:
            self.client.report(key, state, exit_code, message)
        except StaleAttempt as stale:
            log.warning("the server refused %s for %s (%s); stopping it here", state, key, stale.detail)
            self._fenced.add(key)
            self._cancel(key, "stale attempt")
            return False
        except AgentApiError as error:  # malformed on our side: retrying the same body won't help
            log.error("the server refused %s for %s: %s; not reporting it again", state, key, error)
            self._fenced.add(key)
            return False
        if state in AttemptState.__members__:
            self._reported[key] = AttemptState(state)
        return True

    def _forget(self, key: AttemptKey) -> None:
        with self._executor_lock:
            self.executor.forget(key)
        self._reported.pop(key, None)
        self._shipped.pop(key, None)
        self._no_logs.discard(key)
        self._fenced.discard(key)
        self._killed.discard(key)
