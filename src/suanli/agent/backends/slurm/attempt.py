"""What the Slurm executor keeps per attempt, how an attempt's outcome is told from Slurm's, and
how a Slurm job names the attempt it runs (its comment), so a new agent can find it again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suanli.agent.backends.slurm.commands import describe_exit
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, AttemptStatus

_COMMENT_PREFIX = "suanli:"


@dataclass
class SlurmAttempt:
    spec: AttemptSpec
    folder: Path
    submitted_at: float
    slurm_id: str | None = None  # None after an sbatch that timed out: found by its comment
    state: AttemptState = AttemptState.STARTING
    exit_code: int | None = None
    message: str = ""
    cancelled: bool = False  # cancel() was asked
    cancel_sent: bool = False  # scancel reached Slurm
    kill_at: float | None = None
    killed: bool = False

    def status(self) -> AttemptStatus:
        return AttemptStatus(self.spec.key, self.state, self.exit_code, self.message)

    def end(self, state: AttemptState, exit_code: int | None, message: str) -> None:
        self.state, self.exit_code, self.message = state, exit_code, message

    def finish(self, state: AttemptState, code: int | None, message: str) -> None:
        """Ends the attempt with Slurm's final ``state``, worded for people: a cancel asked
        for wins over a failure, a TIMEOUT names the time limit."""
        limit = self.spec.time_limit_s
        if self.cancelled and state is not AttemptState.SUCCEEDED:
            self.end(AttemptState.CANCELLED, code, "cancelled")
        elif state is AttemptState.SUCCEEDED:
            self.end(state, 0 if code is None else code, "")
        elif state is AttemptState.FAILED and "TIMEOUT" in message and limit is not None:
            self.end(state, code, f"time limit of {limit:g}s exceeded (Slurm TIMEOUT)")
        elif state is AttemptState.FAILED and not message:
            self.end(state, code, describe_exit(code) if code is not None else "failed in Slurm")
        else:
            self.end(state, code, message)


def comment(key: AttemptKey) -> str:
    """The comment of the attempt's Slurm job (``sbatch --comment``)."""
    return f"{_COMMENT_PREFIX}{key}"


def key_of(text: str) -> AttemptKey | None:
    """The attempt a job's comment names (``comment``'s inverse), or None for other jobs."""
    text = text.strip()
    if not text.startswith(_COMMENT_PREFIX):
        return None
    try:
        return AttemptKey.parse(text.removeprefix(_COMMENT_PREFIX))
    except ValueError:
        return None
