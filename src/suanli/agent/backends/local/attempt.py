"""What the local executor keeps per attempt: its state folder and supervisor, devices and
outcome, and the environment each rank starts with."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from suanli.agent.backends.local.rank_logs import RankLogMerger
from suanli.agent.backends.local.state import RankEnd, StateFolder
from suanli.agent.executor import AttemptSpec, AttemptState, AttemptStatus

MASTER_ADDR = "127.0.0.1"


class Stop(Enum):
    """Why the executor stopped (or is stopping) an attempt before its processes ended alone."""

    CANCELLED = "cancelled"
    TIME_LIMIT = "time limit"
    RANK_FAILED = "rank failed"
    START_FAILED = "could not start"


@dataclass(slots=True)
class LocalAttempt:
    """One attempt, started here or adopted from a previous agent; its ranks run under their
    supervisor (supervisor.py), which reports their ends in the state folder."""

    spec: AttemptSpec
    pool: str
    devices: list[int]
    log_path: Path
    started_at: float  # time.monotonic() (for an adopted attempt: derived from its wall-clock start)
    folder: StateFolder | None = None  # None: it never got as far as a supervisor
    ends: dict[int, RankEnd] = field(default_factory=dict)
    merger: RankLogMerger | None = None
    stop: Stop | None = None
    state: AttemptState = AttemptState.RUNNING
    exit_code: int | None = None
    message: str = ""

    def over(self) -> bool:
        """Every rank has ended (or could not start)."""
        return len(self.ends) >= self.spec.nodes

    def status(self) -> AttemptStatus:
        return AttemptStatus(self.spec.key, self.state, self.exit_code, self.message)


def job_environment(
    spec: AttemptSpec,
    devices: Mapping[str, list[int]],
    rank: int,
    port: int | None,
    hidden: Iterable[str],
    identity: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The agent's environment less its own SUANLI_* settings (its token among them) and the
    ``hidden`` variables, plus the ``identity`` of the user the job runs as (HOME, USER...),
    plus the job's variables, plus ours, which win: the devices per visible-devices variable (an
    empty list hides every device of that kind), the job and attempt ids, and for a gang its
    rank and rendezvous."""
    hide = set(hidden)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_") and k not in hide}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(identity or {})
    env.update(spec.job_env())
    for variable, indices in devices.items():
        env[variable] = ",".join(map(str, indices))
    if port is not None:
        # One process per node slot, each with its own devices: within its node it is local
        # rank 0, so ``cuda:LOCAL_RANK`` is its first visible device.
        env.update(
            RANK=str(rank),
            NODE_RANK=str(rank),
            LOCAL_RANK="0",
            LOCAL_WORLD_SIZE="1",
            WORLD_SIZE=str(spec.nodes),
            MASTER_ADDR=MASTER_ADDR,
            MASTER_PORT=str(port),
        )
    return env
