"""The job state machine. Every status change goes through ``check_transition``."""

from __future__ import annotations

from enum import StrEnum

from suanli.domain.errors import IllegalTransition


class JobStatus(StrEnum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    PREEMPTED = "PREEMPTED"
    LOST = "LOST"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def holds_capacity(self) -> bool:
        """A job in this status occupies its placement."""
        return self in ACTIVE


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE = frozenset({JobStatus.SCHEDULED, JobStatus.RUNNING})
INTERRUPTED = frozenset({JobStatus.PREEMPTED, JobStatus.LOST})

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    # PENDING -> FAILED: the scheduler cannot consider the job at all (a spec stored under older
    # limits); it fails alone, with the reason, so that it never stops a cycle.
    JobStatus.PENDING: frozenset({JobStatus.SCHEDULED, JobStatus.CANCELLED, JobStatus.FAILED}),
    # SCHEDULED -> PENDING: the center refused the assignment; the job waits again.
    JobStatus.SCHEDULED: frozenset(
        {
            JobStatus.RUNNING,
            JobStatus.PENDING,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.PREEMPTED,
            JobStatus.LOST,
        }
    ),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PREEMPTED, JobStatus.LOST}
    ),
    JobStatus.PREEMPTED: frozenset({JobStatus.PENDING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.LOST: frozenset({JobStatus.PENDING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def check_transition(current: JobStatus, target: JobStatus, *, attempts: int = 0, max_retries: int = 0) -> None:
    """Raise IllegalTransition unless ``current -> target`` is allowed.

    An interrupted job (PREEMPTED, LOST) returns to PENDING only while retries remain:
    ``attempts`` executions so far may be at most ``max_retries`` + 1 in all.
    """
    if target not in _ALLOWED[current]:
        if current.is_terminal:
            raise IllegalTransition(f"the job is already {current} and cannot become {target}")
        raise IllegalTransition(f"a {current} job cannot become {target}")
    if current in INTERRUPTED and target is JobStatus.PENDING and attempts > max_retries:
        raise IllegalTransition(
            f"the job has used {attempts} attempt(s) and allows {max_retries} retr"
            f"{'y' if max_retries == 1 else 'ies'}; it cannot be queued again"
        )


def after_interruption(attempts: int, max_retries: int) -> JobStatus:
    """Where an interrupted job goes next: back to the queue, or FAILED when out of retries."""
    return JobStatus.PENDING if attempts <= max_retries else JobStatus.FAILED
