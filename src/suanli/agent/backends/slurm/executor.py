"""The Slurm executor: attempts become Slurm batch jobs, submitted with ``sbatch`` from the
login node the agent runs on. See docs/connect-slurm.md.

- Pools come from ``sinfo``: one per partition and GPU GRES type.
- ``start`` writes the attempt's command and environment as JSON into its folder (on the
  filesystem the cluster shares) and submits a fixed batch script that execs a fixed launcher
  (launch.py): no user string reaches a shell or an ``--export`` list.
- ``poll`` asks Slurm once (one ``squeue`` for every attempt, at most every ``poll_interval_s``);
  attempts that have left squeue are settled from the launcher's result file, else one ``sacct``.
- When Slurm does not answer, nothing changes: attempts keep their last state, ``healthy()``
  says what is wrong, and the next answer settles everything once.
"""

from __future__ import annotations

import contextlib
import math
import os
import pwd
import subprocess
import time
from pathlib import Path
from types import TracebackType

from suanli.agent.backends.slurm.attempt import SlurmAttempt, comment, key_of
from suanli.agent.backends.slurm.commands import (
    NEVER_RUNS,
    SACCT_FIELDS,
    SINFO_FORMAT,
    SQUEUE_FIELDS,
    QueuedJob,
    Runner,
    SlurmUnavailable,
    answer,
    call,
    error_text,
    exit_code_of,
    is_transient,
    map_state,
    parse_sacct,
    parse_sinfo,
    parse_squeue,
    subprocess_runner,
)
from suanli.agent.backends.slurm.launch import OUTPUT_FILE, read_result, read_spec, write_attempt_files
from suanli.agent.backends.slurm.pools import Target, pools_from_sinfo
from suanli.agent.backends.slurm.submit import sbatch_argv, tool_env
from suanli.agent.executor import (
    AttemptKey,
    AttemptSpec,
    AttemptState,
    AttemptStatus,
    ExecutorRefused,
    read_file_at,
)
from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Pool

__all__ = ["SlurmExecutor", "SlurmUnavailable"]


class SlurmExecutor:
    """Runs attempts as Slurm jobs through the CLI tools. Methods are meant for one agent thread;
    every Slurm call has a timeout, so none blocks longer than ``command_timeout_s``."""

    name = "slurm"

    def __init__(
        self,
        work_root: Path,
        *,
        partitions: list[str] | None = None,
        account: str | None = None,
        qos: str | None = None,
        gpu_model: str | None = None,
        catalog: AcceleratorCatalog | None = None,
        price_per_accelerator_hour: float = 0.0,
        python: str = "python3",
        srun: str = "srun",
        slurm_conf: str | None = None,
        user: str | None = None,
        poll_interval_s: float = 1.0,
        command_timeout_s: float = 10.0,
        retry_s: float = 5.0,
        submit_timeout_s: float = 30.0,
        adopt_within_s: float = 120.0,
        runner: Runner | None = None,
    ) -> None:
        self.work_root = Path(work_root).expanduser().resolve()
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.partitions = list(partitions) if partitions else None
        self.account, self.qos = account, qos
        self.catalog = AcceleratorCatalog(list(catalog if catalog is not None else AcceleratorCatalog()))
        self.gpu_model = self.catalog.canonical(gpu_model) if gpu_model else None
        self.price = price_per_accelerator_hour
        self.python, self.srun = python, srun
        self.user = user or pwd.getpwuid(os.getuid()).pw_name
        self.poll_interval_s = poll_interval_s
        self.command_timeout_s = command_timeout_s
        self.retry_s = retry_s
        self.submit_timeout_s = submit_timeout_s
        self.adopt_within_s = adopt_within_s
        self.runner: Runner = runner or subprocess_runner(tool_env(os.environ, slurm_conf))
        self._attempts: dict[AttemptKey, SlurmAttempt] = {}
        self._pools: dict[str, Pool] = {}
        self._targets: dict[str, Target] = {}
        self._problem: str | None = None
        self._last_query = -math.inf
        self._sacct_works = True

    # -- health, capacity -------------------------------------------------------------------

    def healthy(self) -> str | None:
        """None while Slurm answers; otherwise what went wrong the last time it was asked."""
        return self._problem

    def pools(self) -> list[Pool]:
        """One pool per partition and GPU type (sinfo). When Slurm does not answer, the pools it
        last reported; SlurmUnavailable if it never answered."""
        argv = ["sinfo", "-h", "-o", SINFO_FORMAT]
        if self.partitions:
            argv.append(f"--partition={','.join(self.partitions)}")
        try:
            result = answer(self.runner, argv, self.command_timeout_s)
        except SlurmUnavailable as error:
            self._problem = f"sinfo failed: {error}"
            if self._pools:
                return list(self._pools.values())
            raise
        self._pools, self._targets = pools_from_sinfo(
            parse_sinfo(result.stdout), self.catalog, self.gpu_model, self.price, self.partitions
        )
        return list(self._pools.values())

    # -- taking over a previous agent's jobs ---------------------------------------------------

    def recover(self, owner: str) -> list[AttemptKey]:
        """Takes over the jobs a previous agent of the same center left in Slurm (it died without
        stopping them): one squeue; a job is ours if its comment names an attempt whose folder
        under ``work_root`` was written for ``owner``. Jobs that already left squeue are not
        recovered (the server reruns them). Safe to call again: known attempts are skipped."""
        queued = self._squeue() if owner else None
        if queued is None:
            return []
        recovered = []
        for job in queued.values():
            key = key_of(job.comment)
            if key is None or key in self._attempts:
                continue
            folder = self.work_root / f"{key.job_id}-{key.attempt}"
            written = read_spec(folder)
            if written is None or written.get("owner") != owner:
                continue  # another center's (or a foreign) job: not ours to touch
            argv_run = written.get("argv")
            spec = AttemptSpec(
                key=key,
                name=str(written.get("name") or key),
                command=tuple(str(a) for a in argv_run) if isinstance(argv_run, list) else str(key),
                nodes=int(written.get("nodes") or 1),
                owner=owner,
            )
            attempt = SlurmAttempt(spec, folder, time.monotonic(), slurm_id=job.job_id)
            self._attempts[key] = attempt
            self._apply(attempt, job, time.monotonic())
            recovered.append(key)
        return recovered

    # -- start ------------------------------------------------------------------------------

    def start(self, spec: AttemptSpec) -> None:
        """Submits ``spec`` with sbatch. A key already known is not submitted again. A refusal
        that says "not now" raises ExecutorRefused; a permanent one makes a FAILED attempt."""
        if spec.key in self._attempts:
            return
        if spec.nodes < 1 or spec.accelerators_per_node < 0:
            raise ExecutorRefused(f"{spec.key}: nodes must be >= 1 and accelerators per node >= 0")
        folder = self.work_root / f"{spec.key.job_id}-{spec.key.attempt}"
        attempt = SlurmAttempt(spec, folder, time.monotonic())
        write_attempt_files(folder, spec, spec.workdir or str(folder), self.srun)
        if not (spec.command if isinstance(spec.command, tuple) else spec.command.strip()) or (
            isinstance(spec.command, tuple) and not spec.command[0]
        ):
            self._attempts[spec.key] = attempt
            self._fail_before_slurm(attempt, "could not start: the command is empty")
            return
        argv = sbatch_argv(spec, folder, self._target_for(spec), account=self.account, qos=self.qos, python=self.python)
        try:
            result = self.runner(argv, self.submit_timeout_s)
        except subprocess.TimeoutExpired:
            # It may have been queued: the next polls look for it by its comment.
            self._problem = f"sbatch did not answer within {self.submit_timeout_s:g} s"
            self._attempts[spec.key] = attempt
            return
        except OSError as error:
            raise ExecutorRefused(f"cannot run sbatch: {error}") from error
        if result.returncode != 0:
            message = error_text(result)
            if is_transient(message):
                self._problem = f"sbatch failed: {message}"
                raise ExecutorRefused(f"Slurm is not taking jobs now: {message}")
            self._attempts[spec.key] = attempt
            self._fail_before_slurm(attempt, f"Slurm refused the job: {message}")
            return
        attempt.slurm_id = result.stdout.strip().split(";")[0]
        self._attempts[spec.key] = attempt

    def _target_for(self, spec: AttemptSpec) -> Target:
        if not self._targets:
            with contextlib.suppress(SlurmUnavailable, ValueError):  # then Slurm's defaults
                self.pools()
        if spec.pool:
            # An unknown pool is passed on as a partition: Slurm's refusal is the message.
            return self._targets.get(spec.pool, Target(spec.pool, None, spec.accelerator == CPU))
        for name, pool in self._pools.items():
            if _same(self.catalog, pool.accelerator, spec.accelerator):
                return self._targets[name]
        return Target(None, None, spec.accelerator == CPU)

    def _fail_before_slurm(self, attempt: SlurmAttempt, message: str) -> None:
        with (attempt.folder / OUTPUT_FILE).open("ab") as log:
            log.write(f"suanli: {message}\n".encode())
        attempt.end(AttemptState.FAILED, None, message)

    # -- poll -------------------------------------------------------------------------------

    def poll(self) -> list[AttemptStatus]:
        """Every attempt known until ``forget``. Asks Slurm (one squeue) only when an attempt is
        live and ``poll_interval_s`` has passed since the last answer."""
        live = [a for a in self._attempts.values() if not a.state.is_final]
        now = time.monotonic()
        # While Slurm is away each try may take command_timeout_s: try less often.
        interval = self.poll_interval_s if self._problem is None else max(self.poll_interval_s, self.retry_s)
        if (live or self._problem is not None) and now - self._last_query >= interval:
            self._last_query = now
            self._refresh(live, now)
        return [attempt.status() for attempt in self._attempts.values()]

    def _squeue(self) -> dict[str, QueuedJob] | None:
        """Every job of the user Slurm lists, by id; None (and ``healthy()`` says why) when Slurm
        does not answer."""
        argv = ["squeue", "-h", "--states=all", f"--user={self.user}", "-O", SQUEUE_FIELDS]
        try:
            result = answer(self.runner, argv, self.command_timeout_s)
        except SlurmUnavailable as error:
            self._problem = f"squeue failed: {error}"
            return None
        self._problem = None
        return parse_squeue(result.stdout)

    def _refresh(self, live: list[SlurmAttempt], now: float) -> None:
        jobs = self._squeue()
        if jobs is None:
            return  # states stay as they were: nothing is lost
        by_comment = {job.comment: job for job in jobs.values()}
        missing = []
        for attempt in live:
            if attempt.slurm_id is None and not self._adopt(attempt, by_comment, now):
                continue
            job = jobs.get(attempt.slurm_id or "")
            if job is None:
                missing.append(attempt)
            else:
                self._apply(attempt, job, now)
        if missing:
            self._settle_missing(missing)

    def _adopt(self, attempt: SlurmAttempt, by_comment: dict[str, QueuedJob], now: float) -> bool:
        job = by_comment.get(comment(attempt.spec.key))
        if job is not None:
            attempt.slurm_id = job.job_id
            return True
        if now - attempt.submitted_at > self.adopt_within_s:
            self._fail_before_slurm(attempt, "sbatch did not answer and the job never appeared in squeue")
        return False

    def _apply(self, attempt: SlurmAttempt, job: QueuedJob, now: float) -> None:
        if attempt.cancelled and not attempt.cancel_sent:
            self._send_cancel(attempt)
        state, message = map_state(job.state)
        if state is AttemptState.STARTING and job.reason in NEVER_RUNS and not attempt.cancelled:
            self._scancel(["scancel", job.job_id])
            message = f"Slurm cannot run it: the job would pend forever (reason {job.reason})"
            self._fail_before_slurm(attempt, message)
            return
        late = attempt.kill_at is not None and now >= attempt.kill_at
        if state is AttemptState.RUNNING and late and not attempt.killed:
            attempt.killed = self._scancel(["scancel", "--signal=KILL", "--full", job.job_id])
        if not state.is_final:
            attempt.state = state
            return
        code = read_result(attempt.folder)
        attempt.finish(state, code if code is not None else exit_code_of(job.raw_exit), message)

    def _settle_missing(self, missing: list[SlurmAttempt]) -> None:
        """Attempts Slurm no longer lists (older than MinJobAge): the launcher's result file, else
        one sacct call for all of them, else a failure that says so."""
        unknown = []
        for attempt in missing:
            code = read_result(attempt.folder)
            if code is None:
                unknown.append(attempt)
            else:
                attempt.finish(AttemptState.SUCCEEDED if code == 0 else AttemptState.FAILED, code, "")
        accounted = self._sacct([a.slurm_id or "" for a in unknown]) if unknown else {}
        for attempt in unknown:
            found = accounted.get(attempt.slurm_id or "")
            if found is not None:
                state, message = map_state(found[0])
                if state.is_final:
                    attempt.finish(state, found[1], message)
                    continue
            message = f"Slurm job {attempt.slurm_id} left the queue and no exit status was recorded"
            attempt.finish(AttemptState.FAILED, None, message)

    def _sacct(self, ids: list[str]) -> dict[str, tuple[str, int | None]]:
        if not self._sacct_works:
            return {}
        argv = ["sacct", "-X", "-n", "-P", f"--jobs={','.join(ids)}", "-o", SACCT_FIELDS]
        try:
            result = call(self.runner, argv, self.command_timeout_s)
        except SlurmUnavailable:
            return {}
        if result.returncode != 0:
            self._sacct_works = False  # no accounting here: do not ask again
            return {}
        return parse_sacct(result.stdout)

    # -- cancel, logs, bookkeeping ----------------------------------------------------------

    def cancel(self, key: AttemptKey, grace_s: float = 10.0) -> None:
        """scancel now (Slurm sends SIGTERM, then SIGKILL after its KillWait); SIGKILL from us
        after ``grace_s`` if the job still runs. When Slurm is away, retried on later polls."""
        attempt = self._attempts.get(key)
        if attempt is None or attempt.state.is_final or attempt.cancelled:
            return
        attempt.cancelled = True
        attempt.kill_at = time.monotonic() + grace_s
        if attempt.slurm_id is not None:
            self._send_cancel(attempt)

    def _send_cancel(self, attempt: SlurmAttempt) -> None:
        attempt.cancel_sent = self._scancel(["scancel", attempt.slurm_id or ""])

    def _scancel(self, argv: list[str]) -> bool:
        try:
            result = call(self.runner, argv, self.command_timeout_s)
        except SlurmUnavailable as error:
            self._problem = f"scancel failed: {error}"
            return False
        text = error_text(result)
        if result.returncode == 0 or "already completing or completed" in text or "Invalid job id" in text:
            return True
        self._problem = f"scancel failed: {text}"
        return False

    def log_path(self, key: AttemptKey) -> Path:
        return self.work_root / f"{key.job_id}-{key.attempt}" / OUTPUT_FILE

    def read_logs(self, key: AttemptKey, offset: int, limit: int = 65536) -> bytes:
        """The job's output file (stdout and stderr; a gang's lines prefixed ``N: `` by srun)."""
        return read_file_at(self.log_path(key), offset, limit)

    def forget(self, key: AttemptKey) -> None:
        attempt = self._attempts.get(key)
        if attempt is not None and not attempt.state.is_final:
            raise ValueError(f"{key} is still running; cancel it and wait for a final state first")
        self._attempts.pop(key, None)

    def slurm_job_id(self, key: AttemptKey) -> str | None:
        attempt = self._attempts.get(key)
        return attempt.slurm_id if attempt else None

    def close(self) -> None:
        """Cancels every live attempt in one scancel (best effort) and marks them CANCELLED."""
        live = [a for a in self._attempts.values() if not a.state.is_final]
        ids = [a.slurm_id for a in live if a.slurm_id]
        if ids:
            self._scancel(["scancel", *ids])
        for attempt in live:
            attempt.end(AttemptState.CANCELLED, None, "the executor was closed")

    def __enter__(self) -> SlurmExecutor:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _same(catalog: AcceleratorCatalog, a: str, b: str) -> bool:
    if a in catalog and b in catalog:
        return catalog.canonical(a) == catalog.canonical(b)
    return a.lower() == b.lower()
