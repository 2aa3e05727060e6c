"""The Ray backend: attempts run as Ray jobs through the Jobs API of the Ray head's dashboard;
Ray itself is imported only at the first call (docs/connect-ray.md)."""

from __future__ import annotations

from suanli.agent.backends.options import RAY_ADDRESS, Backend, BackendOptions, BadOption

GANG_STRATEGIES = ("STRICT_SPREAD", "SPREAD", "PACK", "STRICT_PACK")


def build(options: BackendOptions) -> Backend:
    from suanli.agent.backends.ray.executor import RayExecutor

    address = options.ray_address or RAY_ADDRESS
    executor = RayExecutor(
        address,
        models={"GPU": options.gpu_model} if options.gpu_model else None,
        resources=resources(options.ray_resources),
        job_prefix=options.ray_job_prefix or "suanli",
        pending_timeout_s=options.ray_pending_timeout_s or 300.0,
        gang_strategy=gang_strategy(options.ray_gang_strategy or "STRICT_SPREAD"),
        python=options.ray_python or "python",
    )
    return Backend(executor, f"from the Ray cluster at {address}")


def resources(items: tuple[str, ...]) -> dict[str, str]:
    """``MODEL=RESOURCE`` items as a map: the Ray resource that stands for each model."""
    found = {}
    for item in items:
        model, sep, resource = item.partition("=")
        if not (model.strip() and sep and resource.strip()):
            raise BadOption(f"--ray-resource takes MODEL=RESOURCE, e.g. MLU370=MLU; got {item!r}")
        found[model.strip()] = resource.strip()
    return found


def gang_strategy(strategy: str) -> str:
    if strategy not in GANG_STRATEGIES:
        raise BadOption(f"--ray-gang-strategy takes STRICT_SPREAD, SPREAD, PACK or STRICT_PACK; got {strategy!r}")
    return strategy
