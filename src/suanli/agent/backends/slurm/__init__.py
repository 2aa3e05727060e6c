"""The Slurm backend: attempts become batch jobs, submitted with sbatch from the login node the
agent runs on (docs/connect-slurm.md)."""

from __future__ import annotations

from suanli.agent.backends.options import Backend, BackendOptions


def build(options: BackendOptions) -> Backend:
    from suanli.agent.backends.slurm.executor import SlurmExecutor

    executor = SlurmExecutor(
        options.work_dir,
        partitions=list(options.partitions) or None,
        gpu_model=options.gpu_model,
        account=options.slurm_account,
        qos=options.slurm_qos,
        python=options.slurm_python,
    )
    return Backend(executor, "from sinfo")
