"""Slurm (the lab of scripts/lab/slurm-up.sh, or any cluster SLURM_CONF names) for the
conformance suite. Jobs run on this host, so they can write to the test's tmp_path."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from suanli.agent.backends.slurm.executor import SlurmExecutor
from tests.conformance.harness import Backend

NAME = "slurm"
LAB = Path(os.environ.get("SUANLI_SLURM_LAB", "/tmp/suanli-slurm-lab"))
GPU_MODEL = "A100-80G"  # the lab's GPUs are untyped (Gres=gpu:4): the operator names the model


def slurm_conf() -> str:
    return os.environ.get("SLURM_CONF") or str(LAB / "slurm.conf")


@functools.cache
def unavailable() -> str | None:
    """Why no Slurm lab can be used (asked once per test session), or None."""
    if shutil.which("sinfo") is None:
        return "Slurm's tools are not installed (run scripts/lab/slurm-up.sh)"
    if not Path(slurm_conf()).exists():
        return f"no Slurm lab at {LAB} (run scripts/lab/slurm-up.sh)"
    env = {**os.environ, "SLURM_CONF": slurm_conf()}
    try:
        states = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, timeout=10, check=False
        )
    except subprocess.TimeoutExpired:
        return "sinfo did not answer in 10 s: is slurmctld stuck?"
    if states.returncode != 0:
        return f"the Slurm lab is not running (run scripts/lab/slurm-up.sh): {states.stderr.strip()}"
    if not any(state.strip().rstrip("*") in ("idle", "mix", "alloc") for state in states.stdout.split()):
        return f"no Slurm node is up: sinfo says {states.stdout.split()}"
    return None


def make_executor(work: Path, **options: object) -> SlurmExecutor:
    options.setdefault("poll_interval_s", 0.2)
    return SlurmExecutor(work, gpu_model=GPU_MODEL, slurm_conf=slurm_conf(), **options)  # type: ignore[arg-type]


@contextmanager
def backend(tmp_path: Path) -> Iterator[Backend]:
    executor = make_executor(tmp_path / "work")
    pool = max(executor.pools(), key=lambda p: (p.accelerators_per_node >= 2, p.nodes))
    try:
        yield Backend(
            executor=executor,
            pool=pool.name,
            accelerator=pool.accelerator,
            gang_nodes=pool.nodes,
            finish_s=60.0,  # two shared cores; Slurm schedules and launches in a few seconds
            python=sys.executable,
            shared_dir=tmp_path,
        )
    finally:
        executor.close()
