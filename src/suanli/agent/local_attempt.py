"""What the local executor keeps per attempt: its rank processes, devices and outcome, and the
environment each rank starts with."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from suanli.agent.executor import AttemptSpec, AttemptState, AttemptStatus
from suanli.agent.rank_logs import RankLogMerger

MASTER_ADDR = "127.0.0.1"


class Stop(Enum):
    """Why the executor stopped (or is stopping) an attempt before its processes ended alone."""

    CANCELLED = "cancelled"
    TIME_LIMIT = "time limit"
    RANK_FAILED = "rank failed"
    START_FAILED = "could not start"


@dataclass(slots=True)
class RankProcess:
    rank: int
    process: subprocess.Popen[bytes]
    exit_code: int | None = None  # set once reaped; until then the pid pins the process group

    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session: the leader's pid is the group id


@dataclass(slots=True)
class LocalAttempt:
    spec: AttemptSpec
    pool: str
    devices: list[int]
    log_path: Path
    started_at: float  # time.monotonic()
    ranks: list[RankProcess] = field(default_factory=list)
    merger: RankLogMerger | None = None
    stop: Stop | None = None
    state: AttemptState = AttemptState.RUNNING
    exit_code: int | None = None
    message: str = ""
    kill_timer: threading.Timer | None = None

    def live_ranks(self) -> list[RankProcess]:
        return [rank for rank in self.ranks if rank.exit_code is None]

    def status(self) -> AttemptStatus:
        return AttemptStatus(self.spec.key, self.state, self.exit_code, self.message)


def job_environment(
    spec: AttemptSpec,
    devices: Mapping[str, list[int]],
    rank: int,
    port: int | None,
    hidden: Iterable[str],
) -> dict[str, str]:
    """The agent's environment less its own SUANLI_* settings (its token among them) and the
    ``hidden`` variables, plus the job's variables, plus ours, which win: the devices per
    visible-devices variable (an empty list hides every device of that kind), the job and
    attempt ids, and for a gang its rank and rendezvous."""
    hide = set(hidden)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_") and k not in hide}
    env["PYTHONUNBUFFERED"] = "1"
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
