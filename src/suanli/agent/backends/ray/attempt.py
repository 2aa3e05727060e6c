"""What the Ray executor keeps per attempt: its Ray job, what it asked for, why we stopped it,
and its output as last fetched."""

from __future__ import annotations

import re
from dataclasses import dataclass

from suanli.agent.executor import AttemptKey, AttemptState, AttemptStatus

_EXIT_CODE = re.compile(r"exit code (-?\d+)")


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

    def finish(self, status: str, code: int | None, ray_message: str) -> None:
        """Ends the attempt with its Ray job's final ``status``, worded for people: why we
        stopped it first, then Ray's exit code and message."""
        if code is None and (found := _EXIT_CODE.search(ray_message)):
            code = int(found.group(1))
        said = ray_message.split(", last available logs", 1)[0].strip()
        if self.stop_reason == "time":
            self.state, self.message = AttemptState.FAILED, f"time limit of {self.time_limit_s:g}s exceeded"
        elif self.stop_reason == "pending":
            self.state = AttemptState.FAILED  # its message says what it asked and what Ray has
        elif status == "SUCCEEDED":
            self.state, code = AttemptState.SUCCEEDED, 0 if code is None else code
        elif status == "STOPPED":
            self.state = AttemptState.CANCELLED
            self.message = "cancelled" if self.stop_reason else "stopped in Ray (not by Suanli)"
        elif code is not None and said.startswith("Job entrypoint command failed with exit code"):
            self.state, self.message = AttemptState.FAILED, f"exited with code {code}"
        else:
            self.state, self.message = AttemptState.FAILED, said or f"Ray says {status}"
        self.exit_code = code


@dataclass
class JobLogs:
    data: bytes = b""
    fetched_at: float = float("-inf")
    complete: bool = False  # the job ended and this is all of its output

    def grow(self, text: str) -> None:
        """Takes the job's whole output as Ray returned it, unless it is shorter than what was
        already handed out (offsets stay valid)."""
        data = text.encode("utf-8", "replace")
        if len(data) >= len(self.data):
            self.data = data
