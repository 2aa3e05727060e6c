"""Attempts: one execution of a job on one center. The attempt number is the fencing token.

A job's current attempt is the one whose number equals the job's ``attempts`` count; a report
about any other attempt comes from the past (a center that was declared lost, a reassignment)
and is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from suanli.domain.errors import IllegalTransition
from suanli.domain.job_status import JobStatus


class AttemptState(StrEnum):
    ASSIGNED = "ASSIGNED"  # placed; the center's agent has not said it started
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    LOST = "LOST"  # the center stopped answering, or its agent no longer had it
    REFUSED = "REFUSED"  # the center would not take it (its capacity changed)

    @property
    def is_live(self) -> bool:
        return self in LIVE_ATTEMPT

    @property
    def is_final(self) -> bool:
        return self not in LIVE_ATTEMPT


LIVE_ATTEMPT = frozenset({AttemptState.ASSIGNED, AttemptState.RUNNING})

_ALLOWED: dict[AttemptState, frozenset[AttemptState]] = {
    AttemptState.ASSIGNED: frozenset(
        {
            AttemptState.RUNNING,
            AttemptState.SUCCEEDED,
            AttemptState.FAILED,
            AttemptState.CANCELLED,
            AttemptState.LOST,
            AttemptState.REFUSED,
        }
    ),
    AttemptState.RUNNING: frozenset(
        {AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.CANCELLED, AttemptState.LOST}
    ),
}

# What a center's report about the current attempt means for its job.
JOB_STATUS_FOR_REPORT: dict[AttemptState, JobStatus] = {
    AttemptState.RUNNING: JobStatus.RUNNING,
    AttemptState.SUCCEEDED: JobStatus.SUCCEEDED,
    AttemptState.FAILED: JobStatus.FAILED,
    AttemptState.CANCELLED: JobStatus.CANCELLED,
    AttemptState.REFUSED: JobStatus.PENDING,
}


def check_attempt_transition(current: AttemptState, target: AttemptState) -> None:
    if target not in _ALLOWED.get(current, frozenset()):
        if current.is_final:
            raise IllegalTransition(f"the attempt already ended {current} and cannot become {target}")
        raise IllegalTransition(f"a {current} attempt cannot become {target}")


class Attempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: int
    number: int
    center: str
    pool: str
    node_indices: tuple[int, ...]
    state: AttemptState = AttemptState.ASSIGNED
    exit_code: int | None = None
    message: str = ""
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def transitioned(
        self, target: AttemptState, now: datetime, *, exit_code: int | None = None, message: str = ""
    ) -> Attempt:
        """A copy in ``target`` state. Raises IllegalTransition."""
        check_attempt_transition(self.state, target)
        update: dict[str, object] = {"state": target, "exit_code": exit_code, "message": message}
        if target is AttemptState.RUNNING:
            update["started_at"] = now
        if target.is_final:
            update["ended_at"] = now
        return self.model_copy(update=update)


def outcome_message(state: AttemptState, exit_code: int | None, message: str) -> str:
    """The job's message after a center reports how its attempt ended. The exit code is said once:
    executors often say it themselves ("exited with code 3")."""
    if state is AttemptState.REFUSED:
        return "the center refused the assignment" + (f": {message}" if message else "") + "; waiting again"
    if exit_code is None or re.search(rf"\bcode {exit_code}\b", message):
        return message
    return f"exit code {exit_code}" + (f"; {message}" if message else "")
