"""What a Ray cluster offers, read from its nodes' resources: pools, and whether a request fits.

Pure functions over the node list that the Ray dashboard's State API returns
(``GET /api/v0/nodes``); no Ray import. See docs/connect-ray.md.

Accelerators are Ray resources: NVIDIA (and Hygon DCU, which Ray drives as a ROCm GPU) are
``GPU``, Huawei Ascend is ``NPU`` (Ray detects it and sets ``ASCEND_RT_VISIBLE_DEVICES``), and any
other model is a custom resource named after the model's visible-devices kind (``MLU`` for
Cambricon) unless the operator names another. CPU jobs ask for ``CPU``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from suanli.agent.capacity import slug
from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Pool

# Ray resource per visible-devices variable of the catalog's models.
RESOURCE_BY_DEVICES_ENV = {
    "CUDA_VISIBLE_DEVICES": "GPU",
    "HIP_VISIBLE_DEVICES": "GPU",
    "ASCEND_RT_VISIBLE_DEVICES": "NPU",
    "MLU_VISIBLE_DEVICES": "MLU",
}
ACCELERATOR_TYPE_PREFIX = "accelerator_type:"  # Ray marks a detected GPU model this way


@dataclass(frozen=True, slots=True)
class RayNode:
    node_id: str
    resources: Mapping[str, float]

    def amount(self, resource: str) -> float:
        return float(self.resources.get(resource, 0.0))

    @property
    def accelerator_type(self) -> str | None:
        for name in self.resources:
            if name.startswith(ACCELERATOR_TYPE_PREFIX):
                return name[len(ACCELERATOR_TYPE_PREFIX) :]
        return None


def parse_nodes(payload: Any) -> list[RayNode]:
    """The ALIVE nodes of a State API answer (``{"data": {"result": {"result": [...]}}}``)."""
    rows = payload.get("data", {}).get("result", {}).get("result", []) if isinstance(payload, dict) else []
    nodes = []
    for row in rows:
        if isinstance(row, dict) and row.get("state") == "ALIVE":
            resources = {str(k): float(v) for k, v in (row.get("resources_total") or {}).items()}
            nodes.append(RayNode(str(row.get("node_id", "")), resources))
    return nodes


class ResourceMap:
    """Accelerator model <-> Ray resource, with the operator's overrides."""

    def __init__(
        self,
        catalog: AcceleratorCatalog,
        models: Mapping[str, str] | None = None,
        resources: Mapping[str, str] | None = None,
    ) -> None:
        self.catalog = catalog
        # resource -> the model its devices are (e.g. {"GPU": "A100-80G"}), when nodes do not say
        self.models = dict(models or {})
        # model -> resource, overriding the default by visible-devices kind (e.g. {"MLU370": "MLU"})
        self.resources = {self._canonical(m): r for m, r in (resources or {}).items()}

    def _canonical(self, model: str) -> str:
        return self.catalog.canonical(model) if model in self.catalog else model

    def resource_for(self, model: str) -> str:
        """The Ray resource a job for ``model`` asks for."""
        canonical = self._canonical(model)
        if canonical == CPU:
            return "CPU"
        if canonical in self.resources:
            return self.resources[canonical]
        for resource, declared in self.models.items():
            if self._canonical(declared) == canonical:
                return resource
        if model in self.catalog:
            env = self.catalog.resolve(model).visible_devices_env
            if env in RESOURCE_BY_DEVICES_ENV:
                return RESOURCE_BY_DEVICES_ENV[env]
        return canonical

    def accelerator_resources(self) -> set[str]:
        return {*RESOURCE_BY_DEVICES_ENV.values(), *self.models, *self.resources.values()}

    def model_of(self, resource: str, node: RayNode) -> str:
        """The model of ``resource`` on ``node``: the operator's word, else what Ray detected."""
        if resource in self.models:
            return self._canonical(self.models[resource])
        for model, named in self.resources.items():
            if named == resource:
                return model
        detected = node.accelerator_type if resource == "GPU" else None
        if detected is not None:
            return self._canonical(detected)
        return resource


def cluster_pools(nodes: Iterable[RayNode], resource_map: ResourceMap, *, prefix: str = "ray") -> list[Pool]:
    """One pool per shape of node (model, accelerators, CPUs, memory): Ray places within it.

    A node with accelerators joins the pool of its model; a node without any joins ``ray-cpu``,
    whose slots are CPU cores."""
    shapes: dict[tuple[str, int, int, float], int] = {}
    accelerators = resource_map.accelerator_resources()
    for node in nodes:
        cpus = max(1, int(node.amount("CPU")))
        memory_gb = max(round(node.amount("memory") / 1024**3, 1), 0.1)
        offered = [(r, int(node.amount(r))) for r in sorted(accelerators) if int(node.amount(r)) >= 1]
        if not offered:
            offered = [("CPU", cpus)] if node.amount("CPU") >= 1 else []
        for resource, count in offered:
            model = CPU if resource == "CPU" else resource_map.model_of(resource, node)
            shape = (model, count, cpus, memory_gb)
            shapes[shape] = shapes.get(shape, 0) + 1
    pools: list[Pool] = []
    taken: set[str] = set()
    for (model, count, cpus, memory_gb), n in sorted(shapes.items(), key=lambda item: (item[0][0], -item[0][1])):
        name = base = f"{prefix}-{slug(model)}"[:60].rstrip("-")
        suffix = 2
        while name in taken:
            name, suffix = f"{base[:56]}-{suffix}", suffix + 1
        taken.add(name)
        pools.append(
            Pool(
                name=name,
                accelerator=model,
                accelerators_per_node=min(count, 1024) if model != CPU else min(count, cpus),
                cpus_per_node=cpus,
                memory_gb_per_node=memory_gb,
                nodes=n,
                price_per_accelerator_hour=0.0,
            )
        )
    return pools


def largest(nodes: Iterable[RayNode], resource: str) -> tuple[float, float]:
    """(the most ``resource`` one node has, the cluster's total)."""
    amounts = [node.amount(resource) for node in nodes]
    return (max(amounts, default=0.0), sum(amounts))
