"""Builders for tests: ``make_job(1).gpus("A100-80G", 8).nodes(4).build()``."""

from __future__ import annotations

from typing import Any

from suanli.domain.centers import Center, CenterSpec, CenterState, Pool
from suanli.domain.jobs import JobSpec
from suanli.scheduler.request import SchedulingRequest


class JobBuilder:
    def __init__(self, job_id: int = 1) -> None:
        self.job_id = job_id
        self.data: dict[str, Any] = {"name": f"job-{job_id}", "command": ["python", "train.py"], "resources": {}}
        self.constraints: dict[str, Any] = {}

    def gpus(self, *alternatives: str) -> JobBuilder:
        self.data["resources"]["accelerators"] = list(alternatives)
        return self

    def cpus(self, n: int) -> JobBuilder:
        self.data["resources"]["cpus"] = n
        return self

    def memory(self, gb: float) -> JobBuilder:
        self.data["resources"]["memory_gb"] = gb
        return self

    def nodes(self, n: int) -> JobBuilder:
        self.data["nodes"] = n
        return self

    def priority(self, p: int) -> JobBuilder:
        self.data["priority"] = p
        return self

    def time_limit(self, seconds: float) -> JobBuilder:
        self.data["time_limit"] = seconds
        return self

    def constrain(self, **constraints: Any) -> JobBuilder:
        self.constraints.update(constraints)
        return self

    def spec(self) -> JobSpec:
        return JobSpec.model_validate({**self.data, "constraints": self.constraints})

    def build(self) -> SchedulingRequest:
        return SchedulingRequest.from_spec(self.job_id, self.spec())


def make_job(job_id: int = 1) -> JobBuilder:
    return JobBuilder(job_id)


def make_pool(
    name: str = "gpu",
    accelerator: str = "A100-80G",
    per_node: int = 8,
    nodes: int = 2,
    price: float = 10.0,
    *,
    carbon: float = 500.0,
    cpus: int = 96,
    memory_gb: float = 1024,
) -> Pool:
    return Pool(
        name=name,
        accelerator=accelerator,
        accelerators_per_node=per_node,
        cpus_per_node=cpus,
        memory_gb_per_node=memory_gb,
        nodes=nodes,
        price_per_accelerator_hour=price,
        carbon_intensity=carbon,
    )


def make_center(
    name: str,
    *pools: Pool,
    kind: str = "ai",
    region: str = "qingdao",
    state: CenterState = CenterState.ONLINE,
) -> Center:
    spec = CenterSpec(name=name, owner=f"{name} org", kind=kind, region=region, pools=pools)  # type: ignore[arg-type]
    return Center(spec=spec, state=state)
