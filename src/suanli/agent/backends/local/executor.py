"""The local executor: attempts run as process groups on this machine.

Each attempt runs under a supervisor of its own (supervisor.py; a small launcher process
forks one per attempt), in a session of its own, which starts one process group per rank in the
attempt's working directory, with its output appended to a log file under ``work_root/logs``,
and writes how each rank ended into the attempt's state folder under ``work_root/attempts``. So
attempts outlive the agent: the next executor on the same work root adopts them (``recover``).
Device indices are handed out from the pools of this machine and returned when the attempt
ends. See docs/local-executor.md.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from suanli.agent.backends.local.attempt import MASTER_ADDR, LocalAttempt, Stop, job_environment
from suanli.agent.backends.local.launch import CouldNotStart, check_startable, private_folder
from suanli.agent.backends.local.pools import LocalPools, machine_capacity
from suanli.agent.backends.local.process_group import describe_exit, free_port
from suanli.agent.backends.local.rank_logs import RankLogMerger
from suanli.agent.backends.local.run_as import RunAs
from suanli.agent.backends.local.state import ATTEMPTS, MERGE, AttemptRecord, Launcher, StateFolder, state_folders
from suanli.agent.capacity import CapacitySource
from suanli.agent.executor import (
    AttemptKey,
    AttemptSpec,
    AttemptState,
    AttemptStatus,
    ExecutorRefused,
    read_file_at,
)
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.centers import Pool

CLOSE_WAIT_S = 10.0  # how long close() waits for killed attempts' supervisors to finish


class LocalExecutor:
    """Runs attempts as local processes. Methods are meant for one agent thread."""

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
        run_as: str | None = None,
    ) -> None:
        if pools is not None and declared is not None:
            raise ValueError("pass either pools or declared accelerators, not both")
        self.run_as = RunAs.resolve(run_as) if run_as else None
        self.work_root = Path(work_root)
        # Private, but another user that runs the jobs must pass through to their folders.
        private_folder(self.work_root, 0o711 if self.run_as else 0o700)
        private_folder(self.work_root / "logs", 0o700)
        private_folder(self.work_root / ATTEMPTS, 0o700)
        if self.run_as is not None:
            self.run_as.check_reachable(self.work_root)
        # A copy: detected models the catalog does not know are added to it.
        self.catalog = AcceleratorCatalog(list(catalog if catalog is not None else AcceleratorCatalog()))
        self.stop_grace_s = stop_grace_s
        capacity = machine_capacity(self.catalog, pools, declared, detect_gpus)
        self.source: CapacitySource = capacity.source
        self._machine = LocalPools(capacity, self.catalog)
        self._attempts: dict[AttemptKey, LocalAttempt] = {}
        self._launcher = Launcher()
        self._launcher.start()
        self._lock = threading.Lock()

    @property
    def declared(self) -> bool:
        """True when the accelerators are only declared by the operator, not detected."""
        return self.source is CapacitySource.DECLARED

    def pools(self) -> list[Pool]:
        return list(self._machine.pools.values())

    def free_devices(self) -> dict[str, list[int]]:
        """The local device indices free now, per pool (for live capacity reports)."""
        with self._lock:
            return {name: list(indices) for name, indices in self._machine.free.items()}

    # -- start ---------------------------------------------------------------------------------

    def start(self, spec: AttemptSpec) -> None:
        """Starts ``spec``. A key this executor already knows is not started again, and one a
        previous agent of the same owner started is adopted, not started twice."""
        with self._lock:
            if spec.key in self._attempts:
                return
            folder = StateFolder.of(self.work_root, spec.key)
            if folder.path.exists():
                record = folder.record()
                if record is not None and record.owner != spec.owner:
                    raise ExecutorRefused(f"{spec.key} already runs here for another agent ({folder.path})")
                if record is not None and self._adopt(folder, record):
                    return
                folder.remove()  # torn before its supervisor started: nothing ran
            pool = self._machine.pool_for(spec)
            devices = self._machine.take(pool, spec)
            attempt = LocalAttempt(spec, pool.name, devices, self.log_path(spec.key), time.monotonic())
            self._attempts[spec.key] = attempt
            try:
                self._launch(attempt, pool, folder)
            except (CouldNotStart, OSError) as error:
                folder.remove()  # nothing runs: no state to keep
                why = str(error) if isinstance(error, CouldNotStart) else f"could not start: {error}"
                self._start_failed(attempt, why)
                self._finish(attempt)

    def _launch(self, attempt: LocalAttempt, pool: Pool, folder: StateFolder) -> None:
        spec = attempt.spec
        workdir = self._workdir(spec)
        argv = list(spec.command) if isinstance(spec.command, tuple) else ["/bin/sh", "-c", spec.command]
        if not argv or not argv[0]:
            raise CouldNotStart("could not start: the command is empty")
        gang = spec.nodes > 1
        port = free_port(MASTER_ADDR) if gang else None
        devices_var = self._machine.devices_var(pool)
        paths = [self.log_path(spec.key, rank if gang else None) for rank in range(spec.nodes)]
        identity = self.run_as.identity() if self.run_as else None
        per_node = spec.accelerators_per_node
        ranks: list[dict[str, Any]] = []
        for rank, path in enumerate(paths):
            devices: dict[str, list[int]] = {variable: [] for variable in self._machine.pool_vars}
            if devices_var:
                devices[devices_var] = attempt.devices[rank * per_node : (rank + 1) * per_node]
            env = job_environment(spec, devices, rank, port, self._machine.hidden_vars, identity)
            ranks.append({"argv": argv, "cwd": str(workdir), "env": env, "log": str(path)})
        check_startable(argv[0], ranks[0]["env"], workdir)  # what surely fails, fails now and says why
        command = list(spec.command) if isinstance(spec.command, tuple) else spec.command
        record = AttemptRecord(
            *(spec.key.job_id, spec.key.attempt, spec.owner, spec.name, command, pool.name, pool.accelerator),
            *(per_node, spec.nodes, attempt.devices, time.time(), spec.time_limit_s),
        )
        folder.create(record, {"ranks": ranks, "user": self.run_as.launch_user() if self.run_as else None})
        folder.launch(self._launcher)
        attempt.folder = folder
        if gang:
            attempt.merger = RankLogMerger(attempt.log_path, paths, folder.path / MERGE)

    def _workdir(self, spec: AttemptSpec) -> Path:
        if spec.workdir:
            return Path(spec.workdir)
        workdir = self.work_root / f"{spec.key.job_id}-{spec.key.attempt}"
        workdir.mkdir(parents=True, exist_ok=True)
        if self.run_as is not None:  # the job's own folder: its user must be able to write there
            os.chown(workdir, self.run_as.uid, self.run_as.gid)
            workdir.chmod(0o700)
        return workdir

    # -- adopt ---------------------------------------------------------------------------------

    def recover(self, owner: str) -> list[AttemptKey]:
        """Adopts the attempts a previous agent with this ``owner`` started on this work root
        (it died or stopped without stopping them): still running, or ended meanwhile with the
        exit codes their supervisors wrote. Another owner's attempts are left alone. Safe to
        call again: known attempts are skipped. Returns the keys adopted."""
        if not owner:
            return []
        adopted = []
        with self._lock:
            for folder in state_folders(self.work_root):
                record = folder.record()
                if record is None or record.owner != owner or record.key in self._attempts:
                    continue
                if self._adopt(folder, record):
                    adopted.append(record.key)
        return adopted

    def _adopt(self, folder: StateFolder, record: AttemptRecord) -> bool:
        if not folder.launched():
            folder.remove()  # its agent died before starting the supervisor: nothing ran
            return False
        key = record.key
        command = tuple(record.command) if isinstance(record.command, list) else record.command
        spec = AttemptSpec(
            *(key, record.name, command),
            pool=record.pool,
            accelerator=record.accelerator,
            accelerators_per_node=record.accelerators_per_node,
            nodes=record.nodes,
            time_limit_s=record.time_limit_s,
            owner=record.owner,
        )
        devices = self._machine.take_back(record.pool, record.devices)
        # The time limit counts from the attempt's start, by the wall clock, across agents.
        started = time.monotonic() - max(0.0, time.time() - record.started_at)
        attempt = LocalAttempt(spec, record.pool, devices, self.log_path(key), started, folder=folder)
        if record.nodes > 1:
            paths = [self.log_path(key, rank) for rank in range(record.nodes)]
            attempt.merger = RankLogMerger.resume(attempt.log_path, paths, folder.path / MERGE)
        asked = folder.stop()
        if asked is not None:
            reason, attempt.message, attempt.exit_code = asked
            attempt.stop = next((stop for stop in Stop if stop.value == reason), Stop.CANCELLED)
        self._attempts[key] = attempt
        self._advance(attempt)
        return True

    # -- poll, stop ----------------------------------------------------------------------------

    def poll(self) -> list[AttemptStatus]:
        with self._lock:
            for attempt in self._attempts.values():
                if not attempt.state.is_final:
                    self._advance(attempt)
            return [attempt.status() for attempt in self._attempts.values()]

    def _advance(self, attempt: LocalAttempt) -> None:
        assert attempt.folder is not None  # attempts without one are final from their start
        # Liveness first: a supervisor seen gone has written every end it was going to write.
        alive = attempt.folder.alive()
        attempt.ends = attempt.folder.exits()
        if attempt.stop is None:
            self._enforce(attempt)
        if attempt.merger is not None:
            attempt.merger.pump()
        if attempt.over() or not alive:
            self._finish(attempt)

    def _enforce(self, attempt: LocalAttempt) -> None:
        """The agent's rules: a rank that could not start or failed stops the rest; so does the
        time limit."""
        spec = attempt.spec
        ends = sorted(attempt.ends.items())
        not_started = [(rank, end) for rank, end in ends if end.code is None]
        failed = [(rank, end.code) for rank, end in ends if end.code is not None and end.code != 0]
        gang = spec.nodes > 1
        limit = spec.time_limit_s
        if not_started:
            rank, end = not_started[0]
            self._start_failed(attempt, f"could not start{f' rank {rank}' if gang else ''}: {end.error}")
        elif failed:
            rank, code = failed[0]
            attempt.stop, attempt.exit_code = Stop.RANK_FAILED, code
            attempt.message = f"{f'rank {rank} ' if gang else ''}{describe_exit(code)}"
            self._stop(attempt, self.stop_grace_s)
        elif limit is not None and time.monotonic() - attempt.started_at > limit:
            attempt.stop, attempt.message = Stop.TIME_LIMIT, f"time limit of {limit:g}s exceeded"
            self._stop(attempt, self.stop_grace_s)

    def _start_failed(self, attempt: LocalAttempt, message: str) -> None:
        line = f"suanli: {message}\n".encode()
        if attempt.merger is not None:
            attempt.merger.append(line)
        else:
            with attempt.log_path.open("ab") as log:
                log.write(line)
        attempt.stop, attempt.message = Stop.START_FAILED, message
        self._stop(attempt, 0)

    def _finish(self, attempt: LocalAttempt) -> None:
        leader = attempt.ends.get(0)
        leader_code = leader.code if leader is not None else None
        if attempt.stop is Stop.CANCELLED:
            attempt.state, attempt.exit_code = AttemptState.CANCELLED, leader_code
        elif attempt.stop is None and attempt.over():
            attempt.state, attempt.exit_code = AttemptState.SUCCEEDED, 0
        else:
            attempt.state = AttemptState.FAILED
            if attempt.stop is Stop.TIME_LIMIT:
                attempt.exit_code = leader_code
            elif attempt.stop is None:  # the supervisor ended without word of every rank
                assert attempt.folder is not None
                attempt.message = (
                    f"the supervisor of this attempt ended unexpectedly; see {attempt.folder.path}/supervisor.log"
                )
        if attempt.merger is not None:
            attempt.merger.pump(final=True)
        self._machine.give_back(attempt.pool, attempt.devices)
        attempt.devices = []

    def cancel(self, key: AttemptKey, grace_s: float = 10.0) -> None:
        """SIGTERM to each rank's process group now, SIGKILL after ``grace_s`` (the supervisor
        keeps the time); returns at once. Unknown or finished attempts are left alone."""
        with self._lock:
            attempt = self._attempts.get(key)
            if attempt is None or attempt.state.is_final or attempt.folder is None:
                return
            attempt.ends = attempt.folder.exits()  # an attempt that already ended is not reported as cancelled
            if attempt.stop is None and not attempt.over():
                attempt.stop, attempt.message = Stop.CANCELLED, "cancelled"
                self._stop(attempt, grace_s)

    def _stop(self, attempt: LocalAttempt, grace_s: float) -> None:
        """Asks the supervisor to stop the ranks; the reason is kept with the attempt, so an
        agent that adopts it midway reports the same outcome."""
        if attempt.folder is not None and attempt.stop is not None:
            attempt.folder.request_stop(grace_s, attempt.stop.value, attempt.message, attempt.exit_code)

    # -- logs, bookkeeping ---------------------------------------------------------------------

    def log_path(self, key: AttemptKey, rank: int | None = None) -> Path:
        suffix = "" if rank is None else f".rank{rank}"
        return self.work_root / "logs" / f"{key.job_id}-{key.attempt}{suffix}.log"

    def read_logs(self, key: AttemptKey, offset: int, limit: int = 65536) -> bytes:
        """Reads the attempt's log (all ranks, each line prefixed ``[rank N]`` for a gang); works
        for forgotten attempts too while the file is on disk."""
        with self._lock:  # a gang's log is read only after a copy is recorded (see RankLogMerger.resume)
            attempt = self._attempts.get(key)
            if attempt is not None and attempt.merger is not None and not attempt.state.is_final:
                attempt.merger.pump()
            return read_file_at(self.log_path(key), offset, limit)

    def healthy(self) -> str | None:
        return None  # nothing stands between this executor and its processes

    def forget(self, key: AttemptKey) -> None:
        """Drops a finished attempt, and its state folder: no agent adopts it again."""
        with self._lock:
            attempt = self._attempts.get(key)
            if attempt is not None and not attempt.state.is_final:
                raise ValueError(f"{key} is still running; cancel it and wait for a final state first")
            self._attempts.pop(key, None)
            if attempt is not None and attempt.folder is not None:
                attempt.folder.remove()

    def detach(self) -> None:
        """Lets go of every attempt without stopping it (the graceful stop of ``suanli agent``):
        the supervisors run on, and the next executor on this work root adopts them."""
        with self._lock:
            self._attempts.clear()
            self._launcher.close()

    def close(self) -> None:
        """Kills every running attempt at once and waits for it (for ``suanli up``, shutdown and
        tests); then drops every state folder, since no agent is to adopt them."""
        with self._lock:
            live = [attempt for attempt in self._attempts.values() if not attempt.state.is_final]
            for attempt in live:
                if attempt.stop is None:
                    attempt.stop, attempt.message = Stop.CANCELLED, "the executor was closed"
                self._stop(attempt, 0)
            deadline = time.monotonic() + CLOSE_WAIT_S
            for attempt in live:
                while attempt.folder is not None and attempt.folder.alive() and time.monotonic() < deadline:
                    time.sleep(0.01)  # not our child: no wait() to block in
                self._advance(attempt)
            self._launcher.close()
            for attempt in self._attempts.values():
                if attempt.folder is not None:
                    attempt.folder.remove()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
