"""The local executor: attempts run as process groups on this machine.

Each rank of an attempt is one subprocess in its own session (so its process group holds every
process it starts), in the attempt's working directory, with its output appended to a log file
under ``work_root/logs``. Device indices are handed out from the pools of this machine and
returned when the attempt ends. See docs/local-executor.md.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

from suanli.agent.capacity import (
    Capacity,
    CapacitySource,
    configured_capacity,
    cpu_capacity,
    declared_capacity,
    gpu_capacity,
    query_nvidia_smi,
)
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, AttemptStatus, ExecutorRefused
from suanli.agent.local_attempt import MASTER_ADDR, LocalAttempt, RankProcess, Stop, job_environment
from suanli.agent.process_group import describe_exit, free_port, has_exited, signal_group
from suanli.agent.rank_logs import RankLogMerger
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.centers import Pool


class LocalExecutor:
    """Runs attempts as local processes. Methods are meant for one agent thread; a timer thread
    of its own delivers SIGKILL when a stop's grace period ends."""

    name = "local"

    def __init__(
        self,
        work_root: Path,
        pools: list[Pool] | None = None,
        *,
        catalog: AcceleratorCatalog | None = None,
        declared: str | None = None,
        stop_grace_s: float = 10.0,
        detect_gpus: bool = True,
    ) -> None:
        if pools is not None and declared is not None:
            raise ValueError("pass either pools or declared accelerators, not both")
        self.work_root = Path(work_root)
        (self.work_root / "logs").mkdir(parents=True, exist_ok=True)
        # A copy: detected models the catalog does not know are added to it.
        self.catalog = AcceleratorCatalog(list(catalog if catalog is not None else AcceleratorCatalog()))
        self.stop_grace_s = stop_grace_s
        capacity = self._capacity(pools, declared, detect_gpus)
        self.source: CapacitySource = capacity.source
        self._pools = {pool.name: pool for pool in capacity.pools}
        self._free = {name: sorted(indices) for name, indices in capacity.devices.items()}
        # Inherited device masks never reach a job; the kinds this machine has are always set.
        self._hidden_vars = {m.visible_devices_env for m in self.catalog if m.visible_devices_env}
        self._pool_vars = {self._devices_var(pool) for pool in capacity.pools} - {""}
        self._attempts: dict[AttemptKey, LocalAttempt] = {}
        self._lock = threading.Lock()  # reaping and group signals: a group id is used only while pinned

    def _capacity(self, pools: list[Pool] | None, declared: str | None, detect_gpus: bool) -> Capacity:
        if pools is not None:
            return configured_capacity(pools, self.catalog)
        if declared is not None:
            return declared_capacity(declared, self.catalog)
        gpus = query_nvidia_smi() if detect_gpus else []
        return gpu_capacity(gpus, self.catalog) if gpus else cpu_capacity()

    def _devices_var(self, pool: Pool) -> str:
        return self.catalog.resolve(pool.accelerator).visible_devices_env

    @property
    def declared(self) -> bool:
        """True when the accelerators are only declared by the operator, not detected."""
        return self.source is CapacitySource.DECLARED

    def pools(self) -> list[Pool]:
        return list(self._pools.values())

    def free_devices(self) -> dict[str, list[int]]:
        """The local device indices free now, per pool (for live capacity reports)."""
        with self._lock:
            return {name: list(indices) for name, indices in self._free.items()}

    # -- start ---------------------------------------------------------------------------------

    def start(self, spec: AttemptSpec) -> None:
        """Starts ``spec``. A key this executor already knows is not started again."""
        with self._lock:
            if spec.key in self._attempts:
                return
            pool = self._pool_for(spec)
            devices = self._take_devices(pool, spec)
            attempt = LocalAttempt(spec, pool.name, devices, self.log_path(spec.key), time.monotonic())
            self._attempts[spec.key] = attempt
            try:
                self._launch(attempt, pool)
            except (_CouldNotStart, OSError) as error:
                message = str(error) if isinstance(error, _CouldNotStart) else f"could not start: {error}"
                with attempt.log_path.open("ab") as log:
                    log.write(f"suanli: {message}\n".encode())
                attempt.stop, attempt.message = Stop.START_FAILED, message
                self._stop(attempt, grace_s=0)
                if not attempt.ranks:
                    self._finish(attempt)

    def _pool_for(self, spec: AttemptSpec) -> Pool:
        names = ", ".join(f"{p.name} ({p.accelerator})" for p in self._pools.values())
        if spec.nodes < 1 or spec.accelerators_per_node < 0:
            raise ExecutorRefused(f"{spec.key}: nodes must be >= 1 and accelerators per node >= 0")
        if spec.pool:
            if spec.pool not in self._pools:
                raise ExecutorRefused(f"there is no pool {spec.pool!r} here; this machine has {names}")
            return self._pools[spec.pool]
        for pool in self._pools.values():
            if self._same_model(pool.accelerator, spec.accelerator):
                return pool
        if spec.accelerators_per_node == 0:
            return next(iter(self._pools.values()))
        raise ExecutorRefused(f"there is no {spec.accelerator} pool here; this machine has {names}")

    def _same_model(self, a: str, b: str) -> bool:
        if a in self.catalog and b in self.catalog:
            return self.catalog.canonical(a) == self.catalog.canonical(b)
        return a.lower() == b.lower()

    def _take_devices(self, pool: Pool, spec: AttemptSpec) -> list[int]:
        free = self._free[pool.name]
        need = spec.accelerators_per_node * spec.nodes
        if need > len(free):
            shape = f"{spec.nodes} x {spec.accelerators_per_node}" if spec.nodes > 1 else str(need)
            raise ExecutorRefused(
                f"not enough {pool.accelerator} free in pool {pool.name}: {spec.key} needs {shape}, "
                f"free now: {len(free)} (indices {', '.join(map(str, free)) or 'none'})"
            )
        taken, free[:] = free[:need], free[need:]
        return taken

    def _launch(self, attempt: LocalAttempt, pool: Pool) -> None:
        spec = attempt.spec
        if spec.workdir:
            workdir = Path(spec.workdir)
        else:
            workdir = self.work_root / f"{spec.key.job_id}-{spec.key.attempt}"
            workdir.mkdir(parents=True, exist_ok=True)
        argv = list(spec.command) if isinstance(spec.command, tuple) else ["/bin/sh", "-c", spec.command]
        if not argv or not argv[0]:
            raise _CouldNotStart("could not start: the command is empty")
        gang = spec.nodes > 1
        port = free_port(MASTER_ADDR) if gang else None
        devices_var = self._devices_var(pool)
        paths = [self.log_path(spec.key, rank if gang else None) for rank in range(spec.nodes)]
        if gang:
            attempt.merger = RankLogMerger(attempt.log_path, paths)
        per_node = spec.accelerators_per_node
        for rank, path in enumerate(paths):
            devices: dict[str, list[int]] = {variable: [] for variable in self._pool_vars}
            if devices_var:
                devices[devices_var] = attempt.devices[rank * per_node : (rank + 1) * per_node]
            env = job_environment(spec, devices, rank, port, self._hidden_vars)
            try:
                with path.open("ab") as log:
                    process = subprocess.Popen(
                        argv,
                        cwd=workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            except (OSError, ValueError, subprocess.SubprocessError) as error:
                where = f" rank {rank}" if gang else ""
                raise _CouldNotStart(f"could not start{where}: {error}") from error
            attempt.ranks.append(RankProcess(rank, process))

    # -- poll, stop ----------------------------------------------------------------------------

    def poll(self) -> list[AttemptStatus]:
        with self._lock:
            for attempt in self._attempts.values():
                if not attempt.state.is_final:
                    self._advance(attempt)
            return [attempt.status() for attempt in self._attempts.values()]

    def _advance(self, attempt: LocalAttempt) -> None:
        self._reap(attempt)
        spec = attempt.spec
        if attempt.stop is None:
            failed = [rank for rank in attempt.ranks if rank.exit_code not in (None, 0)]
            limit = spec.time_limit_s
            if failed:
                first = failed[0]
                assert first.exit_code is not None
                where = f"rank {first.rank} " if spec.nodes > 1 else ""
                attempt.stop, attempt.exit_code = Stop.RANK_FAILED, first.exit_code
                attempt.message = where + describe_exit(first.exit_code)
                self._stop(attempt, self.stop_grace_s)
            elif limit is not None and time.monotonic() - attempt.started_at > limit:
                attempt.stop, attempt.message = Stop.TIME_LIMIT, f"time limit of {limit:g}s exceeded"
                self._stop(attempt, self.stop_grace_s)
        if attempt.merger is not None:
            attempt.merger.pump()
        if not attempt.live_ranks():
            self._finish(attempt)

    def _reap(self, attempt: LocalAttempt) -> None:
        for rank in attempt.live_ranks():
            if has_exited(rank.process.pid):
                # What the rank left running in its group goes with it (as Slurm does at step end);
                # the unreaped leader still pins the group id while we signal it.
                signal_group(rank.pgid, signal.SIGKILL)
                code = rank.process.poll()
                rank.exit_code = code if code is not None else rank.process.wait()

    def _finish(self, attempt: LocalAttempt) -> None:
        codes = [rank.exit_code for rank in attempt.ranks]
        if attempt.stop is Stop.CANCELLED:
            attempt.state = AttemptState.CANCELLED
            attempt.exit_code = codes[0] if codes else None
        elif attempt.stop is None:
            attempt.state, attempt.exit_code = AttemptState.SUCCEEDED, 0
        else:
            attempt.state = AttemptState.FAILED
            if attempt.stop is Stop.TIME_LIMIT:
                attempt.exit_code = codes[0] if codes else None
        if attempt.kill_timer is not None:
            attempt.kill_timer.cancel()
        if attempt.merger is not None:
            attempt.merger.pump(final=True)
        free = self._free[attempt.pool]
        free.extend(attempt.devices)
        free.sort()
        attempt.devices = []

    def cancel(self, key: AttemptKey, grace_s: float = 10.0) -> None:
        """SIGTERM to each rank's process group now, SIGKILL after ``grace_s``; returns at once.
        Unknown or finished attempts are left alone."""
        with self._lock:
            attempt = self._attempts.get(key)
            if attempt is None or attempt.state.is_final:
                return
            self._reap(attempt)  # an attempt that already ended is not reported as cancelled
            if attempt.stop is None and attempt.live_ranks():
                attempt.stop, attempt.message = Stop.CANCELLED, "cancelled"
                self._stop(attempt, grace_s)

    def _stop(self, attempt: LocalAttempt, grace_s: float) -> None:
        if not attempt.live_ranks():
            return
        if grace_s <= 0:
            self._kill(attempt)
            return
        for rank in attempt.live_ranks():
            signal_group(rank.pgid, signal.SIGTERM)
            signal_group(rank.pgid, signal.SIGCONT)  # a stopped process must wake to see SIGTERM
        timer = threading.Timer(grace_s, self._kill_after_grace, (attempt,))
        timer.daemon = True
        timer.start()
        attempt.kill_timer = timer

    def _kill_after_grace(self, attempt: LocalAttempt) -> None:
        with self._lock:
            self._kill(attempt)

    @staticmethod
    def _kill(attempt: LocalAttempt) -> None:
        for rank in attempt.live_ranks():
            signal_group(rank.pgid, signal.SIGKILL)

    # -- logs, bookkeeping ---------------------------------------------------------------------

    def log_path(self, key: AttemptKey, rank: int | None = None) -> Path:
        suffix = "" if rank is None else f".rank{rank}"
        return self.work_root / "logs" / f"{key.job_id}-{key.attempt}{suffix}.log"

    def read_logs(self, key: AttemptKey, offset: int, limit: int = 65536) -> bytes:
        """Reads the attempt's log (all ranks, each line prefixed ``[rank N]`` for a gang); works
        for forgotten attempts too while the file is on disk."""
        if offset < 0:
            raise ValueError("offset must be >= 0")
        with self._lock:
            attempt = self._attempts.get(key)
            if attempt is not None and attempt.merger is not None and not attempt.state.is_final:
                attempt.merger.pump()
        try:
            with self.log_path(key).open("rb") as log:
                log.seek(offset)
                return log.read(max(limit, 0))
        except FileNotFoundError:
            return b""

    def healthy(self) -> str | None:
        return None  # nothing stands between this executor and its processes

    def forget(self, key: AttemptKey) -> None:
        with self._lock:
            attempt = self._attempts.get(key)
            if attempt is not None and not attempt.state.is_final:
                raise ValueError(f"{key} is still running; cancel it and wait for a final state first")
            self._attempts.pop(key, None)

    def close(self) -> None:
        """Kills every running attempt at once and waits for them (for shutdown and tests)."""
        with self._lock:
            for attempt in self._attempts.values():
                if not attempt.state.is_final:
                    if attempt.stop is None:
                        attempt.stop, attempt.message = Stop.CANCELLED, "the executor was closed"
                    self._kill(attempt)
            for attempt in self._attempts.values():
                if not attempt.state.is_final:
                    for rank in attempt.live_ranks():
                        rank.exit_code = rank.process.wait()
                    self._finish(attempt)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class _CouldNotStart(Exception):
    pass
