"""A simulated backend for demonstrations: attempts take time but run nothing.

An attempt "runs" for a duration derived from its spec (a fraction of its time limit, sped up
``time_scale`` times) and then succeeds; its log says what would have run, where. Capacity is
held node by node while an attempt runs, like a real center's, so the scheduler and the agent
protocol behave exactly as they do with real centers. `suanli up --demo` serves its simulated
remote centers with it; nothing else should.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, AttemptStatus, ExecutorRefused
from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Pool

DEFAULT_RUN_S = 3600.0  # what a job without a time limit is taken to need, before speeding up
_KNUTH = 2654435761  # spreads job ids over the jitter range


def simulated_duration(spec: AttemptSpec, time_scale: float, low_s: float = 2.0, high_s: float = 30.0) -> float:
    """Seconds the attempt runs: half its time limit (an hour without one), sped up ``time_scale``
    times, varied by +-40% per job so that runs do not end in lockstep, within [low_s, high_s]."""
    expected = (spec.time_limit_s or 2 * DEFAULT_RUN_S) / 2
    jitter = 0.6 + 0.8 * ((spec.key.job_id * _KNUTH) % 1000) / 1000
    return min(high_s, max(low_s, expected * jitter / time_scale))


@dataclass
class _Run:
    spec: AttemptSpec
    pool: str
    nodes: list[int]  # node indices held, one per gang member
    per_node: int  # slots held on each of them
    started: float
    duration_s: float
    state: AttemptState = AttemptState.RUNNING
    ended: float | None = None


class SimulatedExecutor:
    name = "simulated"

    def __init__(
        self,
        pools: list[Pool],
        *,
        time_scale: float = 300.0,
        catalog: AcceleratorCatalog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog or AcceleratorCatalog()
        self.time_scale = time_scale
        self._clock = clock
        self._pools = {pool.name: pool for pool in pools}
        self._free = {pool.name: [pool.accelerators_per_node] * pool.nodes for pool in pools}
        self._runs: dict[AttemptKey, _Run] = {}
        self._lock = threading.Lock()

    def pools(self) -> list[Pool]:
        return list(self._pools.values())

    def start(self, spec: AttemptSpec) -> None:
        with self._lock:
            if spec.key in self._runs:
                return  # a redelivered assignment: it already runs
            pool = self._pool_for(spec)
            per_node = spec.accelerators_per_node or (1 if pool.accelerator == CPU else 0)
            free = self._free[pool.name]
            nodes = [i for i, slots in enumerate(free) if slots >= per_node][: spec.nodes]
            if len(nodes) < spec.nodes:
                raise ExecutorRefused(
                    f"not enough free nodes in simulated pool {pool.name}: {spec.key} needs {spec.nodes} x "
                    f"{per_node} {pool.accelerator}, {len(nodes)} node(s) have that free now"
                )
            for i in nodes:
                free[i] -= per_node
            duration = simulated_duration(spec, self.time_scale)
            self._runs[spec.key] = _Run(spec, pool.name, nodes, per_node, self._clock(), duration)

    def _pool_for(self, spec: AttemptSpec) -> Pool:
        if spec.pool in self._pools:
            return self._pools[spec.pool]
        for pool in self._pools.values():
            if self.catalog.canonical(pool.accelerator) == self.catalog.canonical(spec.accelerator):
                return pool
        names = ", ".join(f"{p.name} ({p.accelerator})" for p in self._pools.values())
        raise ExecutorRefused(f"this simulated center has no pool for {spec.accelerator}; it has {names}")

    def poll(self) -> list[AttemptStatus]:
        now = self._clock()
        with self._lock:
            for run in self._runs.values():
                if run.state is AttemptState.RUNNING and now >= run.started + run.duration_s:
                    self._end(run, AttemptState.SUCCEEDED, run.started + run.duration_s)
            return [self._status(run) for run in self._runs.values()]

    @staticmethod
    def _status(run: _Run) -> AttemptStatus:
        if run.state is AttemptState.SUCCEEDED:
            return AttemptStatus(run.spec.key, run.state, 0)
        if run.state is AttemptState.CANCELLED:
            return AttemptStatus(run.spec.key, run.state, message="cancelled (simulated)")
        return AttemptStatus(run.spec.key, run.state)

    def _end(self, run: _Run, state: AttemptState, when: float) -> None:
        run.state, run.ended = state, when
        free = self._free[run.pool]
        for i in run.nodes:
            free[i] += run.per_node

    def read_logs(self, key: AttemptKey, offset: int, limit: int = 65536) -> bytes:
        with self._lock:
            run = self._runs.get(key)
            text = self._log(run) if run is not None else ""
        return text.encode()[offset : offset + limit]

    def _log(self, run: _Run) -> str:
        spec = run.spec
        command = spec.command if isinstance(spec.command, str) else shlex.join(spec.command)
        shape = f"{spec.nodes} node(s) x {run.per_node} {self._pools[run.pool].accelerator}"
        lines = [
            f"[simulated] this center is simulated: nothing really runs here; it would run: {command}",
            f"[simulated] on {shape} in pool {run.pool} (nodes {', '.join(map(str, run.nodes))}), "
            f"for {run.duration_s:.1f} s",
        ]
        if run.ended is not None:
            outcome = "finished" if run.state is AttemptState.SUCCEEDED else "was cancelled"
            lines.append(f"[simulated] {outcome} after {run.ended - run.started:.1f} s")
        return "".join(line + "\n" for line in lines)

    def cancel(self, key: AttemptKey, grace_s: float = 10.0) -> None:
        with self._lock:
            run = self._runs.get(key)
            if run is not None and run.state is AttemptState.RUNNING:
                self._end(run, AttemptState.CANCELLED, self._clock())

    def healthy(self) -> str | None:
        return None  # nothing stands between it and its processes

    def forget(self, key: AttemptKey) -> None:
        with self._lock:
            run = self._runs.get(key)
            if run is not None and run.state is not AttemptState.RUNNING:
                del self._runs[key]

    def close(self) -> None:
        for key in list(self._runs):
            self.cancel(key)
