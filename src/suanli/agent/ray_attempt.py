"""What the Ray executor keeps per attempt: its Ray job, what it asked for, why we stopped it,
and its output as last fetched."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.agent.executor import AttemptKey, AttemptState, AttemptStatus


@dataclass
class RayAttempt:
    key: AttemptKey
    submission_id: str
    resource: str  # the Ray resource it asks for ("GPU", "NPU", "CPU"...)
    asks: str  # what it asked Ray for, for messages: "2 GPU"
    submitted_at: float
    time_limit_s: float | None = None
    state: AttemptState = AttemptState.STARTING
    exit_code: int | None = None
    message: str = ""
    running_since: float | None = None
    stop_reason: str | None = None  # why we stopped it: "cancelled", "time", "pending"
    stop_sent: bool = False
    stop_requested_at: float = 0.0

    def status(self) -> AttemptStatus:
        return AttemptStatus(self.key, self.state, self.exit_code, self.message)


@dataclass
class JobLogs:
    data: bytes = b""
    fetched_at: float = float("-inf")
    complete: bool = False  # the job ended and this is all of its output
