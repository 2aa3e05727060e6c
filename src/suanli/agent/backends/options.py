"""What every backend's factory takes and gives: the agent's options, and the executor built
from them with a word on where its capacity comes from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suanli.agent.executor import Executor

RAY_ADDRESS = "http://127.0.0.1:8265"  # the Ray head's dashboard (Jobs API) on the agent's machine


class BadOption(ValueError):
    """An option the backend cannot use, or a cluster configuration it cannot load; the message
    says which and why."""


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """What the agent was told (``suanli agent``'s options); each backend reads its own. A
    backend's own options are falsy when not given (``suanli agent`` refuses them with another)."""

    work_dir: Path
    cancel_grace_s: float = 10.0
    gpu_model: str | None = None  # slurm, kubernetes, ray: the model of GPUs the cluster does not name
    # local
    accelerators: str | None = None
    run_as: str | None = None
    # slurm
    partitions: tuple[str, ...] = ()
    slurm_account: str | None = None
    slurm_qos: str | None = None
    slurm_python: str = "python3"
    # kubernetes
    kubeconfig: Path | None = None
    kube_context: str | None = None
    namespace: str = "suanli"
    image: str = "python:3.11-slim"
    pool_label: str | None = None
    service_account: str | None = None
    # ray (None: not given, the backend's default)
    ray_address: str | None = None  # RAY_ADDRESS
    ray_resources: tuple[str, ...] = ()  # MODEL=RESOURCE
    ray_job_prefix: str | None = None  # suanli
    ray_pending_timeout_s: float | None = None  # 300
    ray_gang_strategy: str | None = None  # STRICT_SPREAD
    ray_python: str | None = None  # python


@dataclass(frozen=True, slots=True)
class Backend:
    """A backend made ready: its executor, and where its capacity comes from, in words
    ("from sinfo", "declared"...), for the agent's first line."""

    executor: Executor
    capacity: str
