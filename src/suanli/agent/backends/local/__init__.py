"""The local backend: attempts run as processes on the agent's own machine, each under a
supervisor of its own (docs/local-executor.md)."""

from __future__ import annotations

from suanli.agent.backends.options import Backend, BackendOptions, BadOption


def build(options: BackendOptions) -> Backend:
    from suanli.agent.backends.local.executor import LocalExecutor

    try:
        executor = LocalExecutor(
            options.work_dir,
            declared=options.accelerators,
            stop_grace_s=options.cancel_grace_s,
            run_as=options.run_as,
        )
    except ValueError as bad:
        raise BadOption(str(bad)) from None
    capacity = "declared" if executor.declared else f"detected ({executor.source.value})"
    if options.run_as:
        capacity += f"; jobs run as {options.run_as}"
    return Backend(executor, capacity)
