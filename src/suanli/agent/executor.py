"""The executor interface: the agent's adapter to one backend (local processes, Slurm, Ray,
Kubernetes). Every backend implements it and passes the same conformance suite.

An executor knows attempts by ``AttemptKey`` (job id, attempt number); the attempt number is
the fencing token, so two executions of one job are never confused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from suanli.domain.centers import Pool


@dataclass(frozen=True, slots=True, order=True)
class AttemptKey:
    job_id: int
    attempt: int

    def __str__(self) -> str:
        return f"job-{self.job_id}-attempt-{self.attempt}"

    @classmethod
    def parse(cls, text: str) -> AttemptKey:
        """The key ``str(key)`` wrote; ValueError for anything else."""
        match = re.fullmatch(r"job-(\d+)-attempt-(\d+)", text)
        if match is None:
            raise ValueError(f"not an attempt key: {text!r}")
        return cls(int(match[1]), int(match[2]))


class AttemptState(StrEnum):
    STARTING = "STARTING"  # accepted by the backend, not yet running
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in (AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.CANCELLED)


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    """What to run for one attempt, as the server assigned it."""

    key: AttemptKey
    name: str
    command: str | tuple[str, ...]  # a tuple runs as is; a string runs under /bin/sh -c
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    pool: str = ""
    accelerator: str = "CPU"
    accelerators_per_node: int = 0
    nodes: int = 1  # gang size: one process (or backend task) per node, all or nothing
    time_limit_s: float | None = None
    # Whose it is: an opaque tag of the agent's center (``owner_tag`` of its token). A backend
    # whose jobs outlive the agent keeps it with the job, so a restarted agent can recover its own.
    owner: str = ""

    def job_env(self) -> dict[str, str]:
        """What the job's processes see of it: its own variables, plus its ids, which win."""
        return {**self.env, "SUANLI_JOB_ID": str(self.key.job_id), "SUANLI_ATTEMPT": str(self.key.attempt)}


@dataclass(frozen=True, slots=True)
class AttemptStatus:
    key: AttemptKey
    state: AttemptState
    exit_code: int | None = None
    message: str = ""  # for people: why it failed, what the backend said


class Executor(Protocol):
    """One backend. Methods are called from one agent thread; they must not block for long."""

    name: str

    def pools(self) -> list[Pool]:
        """The capacity this backend offers, as pools (detected, or declared by the operator)."""

    def start(self, spec: AttemptSpec) -> None:
        """Starts an attempt. Raises ExecutorRefused when it cannot run here (e.g. capacity)."""

    def poll(self) -> list[AttemptStatus]:
        """The state of every attempt this executor knows, in one call (one backend query)."""

    def read_logs(self, key: AttemptKey, offset: int, limit: int = 65536) -> bytes:
        """Up to ``limit`` bytes of the attempt's combined output from byte ``offset`` on."""

    def cancel(self, key: AttemptKey, grace_s: float = 10.0) -> None:
        """Stops an attempt and everything it started: politely, then by force after ``grace_s``."""

    def forget(self, key: AttemptKey) -> None:
        """Drops a finished attempt's bookkeeping (its logs may be kept on disk)."""

    def healthy(self) -> str | None:
        """None while the backend works; else what is wrong, for people (the center then takes
        no new work, and its attempts are kept, not reported lost)."""

    def close(self) -> None:
        """Stops every attempt still running (the agent is stopping)."""


@runtime_checkable
class Recovering(Protocol):
    """An executor whose attempts outlive the agent (Slurm jobs run on when the agent dies)."""

    def recover(self, owner: str) -> list[AttemptKey]:
        """Takes over the live attempts a previous agent with this ``owner`` started; their keys.
        Called once, before the agent's first hello, which then reports them as running."""


def owner_tag(token: str) -> str:
    """The owner tag of an agent's attempts: derived from its center's token (only its center's
    agents hold it), one way, and not the hash the server stores."""
    return hashlib.sha256(f"suanli-attempt-owner:{token}".encode()).hexdigest()[:24]


class ExecutorRefused(Exception):
    """The backend will not run this attempt; the message says why, for the user."""


def read_file_at(path: Path, offset: int, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``path`` from ``offset`` (b"" for a file not there yet): how an
    executor whose attempts write a log file reads it."""
    if offset < 0:
        raise ValueError("offset must be >= 0")
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read(max(limit, 0))
    except FileNotFoundError:
        return b""
