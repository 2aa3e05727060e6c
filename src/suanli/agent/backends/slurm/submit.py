"""The sbatch command line of an attempt, and the environment the Slurm tools run in.

Only fixed option names and values Suanli checked reach sbatch's arguments: the user's command
and environment travel in the attempt's folder (launch.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from suanli.agent.backends.slurm.attempt import comment
from suanli.agent.backends.slurm.launch import BATCH_FILE, OUTPUT_FILE
from suanli.agent.backends.slurm.pools import Target
from suanli.agent.executor import AttemptSpec


def sbatch_argv(
    spec: AttemptSpec, folder: Path, target: Target, *, account: str | None, qos: str | None, python: str
) -> list[str]:
    """``sbatch ... batch.sh FOLDER PYTHON`` for ``spec`` on ``target`` (its partition and GRES)."""
    argv = [
        "sbatch",
        "--parsable",
        f"--job-name={job_name(spec)}",
        f"--comment={comment(spec.key)}",
        f"--output={str(folder / OUTPUT_FILE).replace('%', '%%')}",
        f"--chdir={folder}",
        "--no-requeue",  # Suanli retries elsewhere; a requeue would run the attempt twice
        f"--nodes={spec.nodes}",
        "--ntasks-per-node=1",
    ]
    if target.partition:
        argv.append(f"--partition={target.partition}")
    if account:
        argv.append(f"--account={account}")
    if qos:
        argv.append(f"--qos={qos}")
    if spec.accelerators_per_node > 0:
        if target.cpu:
            argv.append(f"--cpus-per-task={spec.accelerators_per_node}")
        else:
            kind = f"{target.gres_type}:" if target.gres_type else ""
            argv.append(f"--gres=gpu:{kind}{spec.accelerators_per_node}")
    if spec.time_limit_s is not None:
        argv.append(f"--time={duration(spec.time_limit_s)}")
    argv += [str(folder / BATCH_FILE), str(folder), python]
    return argv


def tool_env(environ: Mapping[str, str], slurm_conf: str | None) -> dict[str, str]:
    """The environment of sbatch and the other tools, which the job inherits (--export=ALL):
    the agent's, without its secrets (SUANLI_*), inherited device masks, or a surrounding job's
    SLURM_* variables."""
    env = {
        name: value
        for name, value in environ.items()
        if not name.startswith("SUANLI_")
        and not name.endswith("_VISIBLE_DEVICES")
        and (not name.startswith("SLURM_") or name == "SLURM_CONF")
    }
    if slurm_conf:
        env["SLURM_CONF"] = slurm_conf
    return env


def job_name(spec: AttemptSpec) -> str:
    """The name as given, minus control characters (a newline would split squeue's lines)."""
    name = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in spec.name).strip()
    return name[:200] or str(spec.key)


def duration(seconds: float) -> str:
    total = max(math.ceil(seconds), 60)  # Slurm counts time limits in minutes
    days, rest = divmod(total, 86400)
    return f"{days}-{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
