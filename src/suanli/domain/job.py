"""A job as the platform tracks it: spec, status, placement and history counters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from suanli.domain.job_status import JobStatus, check_transition
from suanli.domain.jobs import JobSpec


class Placement(BaseModel):
    """Where the scheduler put a job: a center, a pool in it, and slots on that pool's nodes."""

    model_config = ConfigDict(frozen=True)

    center: str
    pool: str
    accelerator: str
    accelerators_per_node: int
    node_indices: tuple[int, ...]
    price_per_hour: float
    reason: str = ""


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: str
    spec: JobSpec
    status: JobStatus = JobStatus.PENDING
    version: int = 1
    attempts: int = 0
    placement: Placement | None = None
    message: str = ""
    submitted_at: datetime
    updated_at: datetime
    idempotency_key: str | None = None

    def transitioned(
        self, target: JobStatus, now: datetime, *, message: str = "", placement: Placement | None = None
    ) -> Job:
        """A copy in ``target`` status. Raises IllegalTransition. Storage bumps the version."""
        check_transition(self.status, target, attempts=self.attempts, max_retries=self.spec.max_retries)
        attempts = self.attempts + 1 if target is JobStatus.SCHEDULED else self.attempts
        keep_placement = target in (JobStatus.SCHEDULED, JobStatus.RUNNING) or target.is_terminal
        return self.model_copy(
            update={
                "status": target,
                "attempts": attempts,
                "placement": placement if placement is not None else (self.placement if keep_placement else None),
                "message": message,
                "updated_at": now,
            }
        )
