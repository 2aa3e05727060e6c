"""Talking to Slurm through its command-line tools: running them with a timeout, and reading
what sinfo and squeue print. No shell is involved: every call is an argv list."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from suanli.agent.executor import AttemptState

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


class SlurmUnavailable(Exception):
    """A Slurm command could not answer (controller down, timeout, tool missing)."""


def subprocess_runner(env: Mapping[str, str]) -> Runner:
    """Runs a Slurm tool with ``env``, no stdin, text output, and a hard timeout."""

    def run(argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,
        )

    return run


def call(runner: Runner, argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Runs ``argv``; a timeout or a missing tool becomes SlurmUnavailable."""
    try:
        return runner(argv, timeout_s)
    except subprocess.TimeoutExpired as error:
        raise SlurmUnavailable(f"{argv[0]} did not answer within {timeout_s:g} s") from error
    except OSError as error:
        raise SlurmUnavailable(f"cannot run {argv[0]}: {error}") from error


def answer(runner: Runner, argv: Sequence[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Runs a query (sinfo, squeue): as ``call``, and a non-zero exit is SlurmUnavailable too."""
    result = call(runner, argv, timeout_s)
    if result.returncode != 0:
        raise SlurmUnavailable(error_text(result))
    return result


def error_text(result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stderr or result.stdout or "").strip()
    return text or f"exited with code {result.returncode}"


# -- sbatch's refusals ---------------------------------------------------------------------------

# Refusals that say "not now" (the controller is away or busy, a submit limit is reached): the
# assignment is refused and the job queues again. Every other refusal is permanent for this
# request (bad partition, more GPUs than any node has): the attempt FAILS with Slurm's message.
_TRANSIENT = re.compile(
    r"unable to contact slurm controller|socket timed out|connection refused|temporarily unavailable"
    r"|slurm temporarily unable|try again|maxsubmit|submitjoblimit|not responding",
    re.IGNORECASE,
)


def is_transient(message: str) -> bool:
    return bool(_TRANSIENT.search(message))


# -- sinfo ---------------------------------------------------------------------------------------

SINFO_FORMAT = "%R|%D|%c|%m|%G|%a"


@dataclass(frozen=True, slots=True)
class PartitionNodes:
    """One line of sinfo: nodes of one partition that share a configuration."""

    partition: str
    nodes: int
    cpus: int
    memory_mb: int
    gpus: dict[str | None, int]  # GRES type (None: untyped) -> GPUs per node
    up: bool


def parse_sinfo(text: str) -> list[PartitionNodes]:
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 6:
            continue
        partition, nodes, cpus, memory, gres, avail = parts
        rows.append(
            PartitionNodes(
                partition=partition,
                nodes=_int(nodes),
                cpus=_int(cpus.rstrip("+")),
                memory_mb=_int(memory.rstrip("+")),
                gpus=parse_gres(gres),
                up=avail.strip().lower() == "up",
            )
        )
    return rows


def parse_gres(text: str) -> dict[str | None, int]:
    """``gpu:a100:4(S:0-1),gpu:2,nic:1`` -> ``{"a100": 4, None: 2}`` (GPUs only)."""
    gpus: dict[str | None, int] = {}
    for item in re.split(r",(?![^(]*\))", text):
        item = re.sub(r"\(.*\)$", "", item.strip())
        fields = item.split(":")
        if not fields or fields[0] != "gpu" or len(fields) < 2:
            continue
        kind = fields[1] if len(fields) >= 3 else None
        gpus[kind] = gpus.get(kind, 0) + _int(fields[-1])
    return gpus


def _int(text: str) -> int:
    match = re.match(r"\d+", text.strip())
    return int(match.group()) if match else 0


# -- squeue --------------------------------------------------------------------------------------

# One call lists every job of the agent's user that the controller still holds, finished ones too
# (--states=all, for MinJobAge). The comment is last: it is ours, but nothing after it can shift.
SQUEUE_FIELDS = "JobID:|,State:|,Reason:|,exit_code:|,Comment:"


@dataclass(frozen=True, slots=True)
class QueuedJob:
    job_id: str
    state: str
    reason: str
    raw_exit: int | None  # a wait status (22.05 quirk): 768 is exit 3, 9 is SIGKILL
    comment: str


def parse_squeue(text: str) -> dict[str, QueuedJob]:
    jobs = {}
    for line in text.splitlines():
        parts = line.split("|", 4)
        if len(parts) != 5 or not parts[0].strip().isdigit():
            continue
        job_id, state, reason, raw, comment = (part.strip() for part in parts)
        jobs[job_id] = QueuedJob(job_id, state.split()[0], reason, int(raw) if raw.isdigit() else None, comment)
    return jobs


SACCT_FIELDS = "JobIDRaw,State,ExitCode"


def parse_sacct(text: str) -> dict[str, tuple[str, int | None]]:
    """``sacct -X -n -P -o JobIDRaw,State,ExitCode``: each job's state and exit code (minus the
    signal that killed it), by id."""
    found: dict[str, tuple[str, int | None]] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1]:
            code, _, signal_number = parts[2].partition(":")
            exit_code = -int(signal_number) if signal_number.isdigit() and int(signal_number) else None
            if exit_code is None and code.isdigit():
                exit_code = int(code)
            found[parts[0]] = (parts[1].split()[0], exit_code)
    return found


def exit_code_of(raw: int | None) -> int | None:
    """A wait status to our convention: the exit code, or minus the signal that killed it."""
    if raw is None:
        return None
    signal_number = raw & 0x7F
    return -signal_number if signal_number else (raw >> 8) & 0xFF


_WAITING = {
    "PENDING",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESV_DEL_HOLD",
    "POWER_UP_NODE",
}
_RUNNING = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING", "SUSPENDED", "STOPPED", "UPDATE_DB"}
_FAILED = {
    "FAILED": "",
    "TIMEOUT": "time limit exceeded (Slurm TIMEOUT)",
    "NODE_FAIL": "a node of the job failed (Slurm NODE_FAIL)",
    "BOOT_FAIL": "a node failed to boot (Slurm BOOT_FAIL)",
    "OUT_OF_MEMORY": "out of memory (Slurm OUT_OF_MEMORY)",
    "DEADLINE": "deadline reached (Slurm DEADLINE)",
    "PREEMPTED": "preempted by Slurm (PREEMPTED)",
    "REVOKED": "revoked by Slurm (REVOKED)",
    "SPECIAL_EXIT": "ended in Slurm's SPECIAL_EXIT state",
}

# Pending reasons that never clear by waiting: the job is cancelled and the attempt fails.
NEVER_RUNS = {
    "PartitionConfig",
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "BadConstraints",
    "InvalidAccount",
    "InvalidQOS",
    "DependencyNeverSatisfied",
    "QOSMaxGRESPerJob",
    "AssocMaxGRESPerJob",
    "QOSMaxNodePerJobLimit",
    "AssocMaxNodesPerJobLimit",
    "QOSMaxWallDurationPerJobLimit",
    "AssocMaxWallDurationPerJobLimit",
}


def map_state(slurm_state: str) -> tuple[AttemptState, str]:
    """A Slurm job state to ours, with a message for the failed ones."""
    if slurm_state in _WAITING:
        return AttemptState.STARTING, ""
    if slurm_state in _RUNNING:
        return AttemptState.RUNNING, ""
    if slurm_state == "COMPLETED":
        return AttemptState.SUCCEEDED, ""
    if slurm_state == "CANCELLED":
        return AttemptState.CANCELLED, "cancelled in Slurm"
    return AttemptState.FAILED, _FAILED.get(slurm_state, f"ended in Slurm state {slurm_state}")


def describe_exit(code: int) -> str:
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
