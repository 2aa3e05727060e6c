"""Pools from Kubernetes nodes: one per accelerator model (and per value of a node-pool label the
operator names), sized from the nodes' allocatable resources. Nodes without accelerators form
CPU pools whose slots are cores. Pure: the executor passes the nodes it listed, as dicts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from suanli.agent.backends.kubernetes.objects import VENDOR_RESOURCES, dns_label
from suanli.domain.accelerators import CPU, AcceleratorCatalog, AcceleratorModel
from suanli.domain.centers import Pool

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"  # set by NVIDIA GPU feature discovery
_MODEL_OF_RESOURCE = {
    "huawei.com/Ascend910": "Ascend910B",
    "huawei.com/Ascend310P": "Ascend310P",
    "cambricon.com/mlu": "MLU370",
    "hygon.com/dcu": "DCU-Z100",
}
_UNITS = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3, "": 1,
}  # fmt: skip


@dataclass
class Placement:
    """Where a pool's pods may go: for each node label, the values its nodes carry."""

    labels: dict[str, set[str]] = field(default_factory=dict)

    def node_affinity(self) -> dict[str, Any] | None:
        if not self.labels:
            return None
        expressions = [
            {"key": key, "operator": "In", "values": sorted(values)} for key, values in sorted(self.labels.items())
        ]
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": expressions}]
                }
            }
        }


def quantity(text: object) -> float:
    """A Kubernetes quantity ("96", "3500m", "512Gi", "1e3") as a number; 0 when unreadable."""
    match = re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*([KMGTPE]i|[kmMGTPE]?)\s*", str(text))
    if match is None:
        return 0.0
    try:
        return float(match.group(1)) * _UNITS[match.group(2)]
    except ValueError:
        return 0.0


def schedulable(node: dict[str, Any]) -> bool:
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    return all(c.get("status") == "True" for c in conditions if c.get("type") == "Ready")


def model_of_product(product: str, catalog: AcceleratorCatalog) -> str:
    """An NVIDIA product label ("NVIDIA-A100-SXM4-80GB") as a catalog model; a product the
    catalog does not know is added to it under its own name."""
    for candidate in (product, re.sub(r"^(NVIDIA|Tesla)[-_ ]", "", product, flags=re.I)):
        if candidate in catalog:
            return catalog.canonical(candidate)
    squashed = re.sub(r"[\s_\-]", "", product).lower()
    names: list[tuple[str, AcceleratorModel]] = sorted(
        ((name, model) for model in catalog for name in (model.name, *model.aliases)), key=lambda p: -len(p[0])
    )
    for name, model in names:
        if model.vendor == "NVIDIA" and re.sub(r"[\s_\-]", "", name).lower() in squashed:
            return model.name
    catalog.add(AcceleratorModel(product, "NVIDIA", 0, 1.0))
    return product


def _accelerators(node: dict[str, Any], catalog: AcceleratorCatalog, gpu_model: str | None) -> list[tuple[str, int]]:
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    found = []
    gpus = int(quantity(allocatable.get(VENDOR_RESOURCES["NVIDIA"], 0)))
    if gpus > 0:
        product = labels.get(GPU_PRODUCT_LABEL)
        if product:
            found.append((model_of_product(product, catalog), gpus))
        elif gpu_model:
            found.append((catalog.canonical(gpu_model), gpus))
        else:
            name = (node.get("metadata") or {}).get("name", "?")
            raise ValueError(
                f"node {name} has nvidia.com/gpu but no {GPU_PRODUCT_LABEL} label: say which model its GPUs "
                "are (gpu_model, the agent's --gpu-model), e.g. A100-80G, or install GPU feature discovery"
            )
    for resource, model in _MODEL_OF_RESOURCE.items():
        count = int(quantity(allocatable.get(resource, 0)))
        if count > 0:
            found.append((model, count))
    return found


def pools_from_nodes(
    nodes: list[dict[str, Any]],
    catalog: AcceleratorCatalog,
    *,
    pool_label: str | None = None,
    gpu_model: str | None = None,
    price: float = 0.0,
) -> tuple[dict[str, Pool], dict[str, Placement]]:
    """Groups schedulable nodes by (pool label value, accelerator model); per-node figures are
    the smallest node's, so any node of a pool fits what the pool promises."""
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], int]]] = {}
    for node in nodes:
        if not schedulable(node):
            continue
        labels = (node.get("metadata") or {}).get("labels") or {}
        group = labels.get(pool_label, "") if pool_label else ""
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        found = _accelerators(node, catalog, gpu_model) or [(CPU, int(quantity(allocatable.get("cpu", 0))))]
        for model, count in found:
            if count > 0:
                groups.setdefault((group, model), []).append((node, count))
    pools: dict[str, Pool] = {}
    placements: dict[str, Placement] = {}
    for (group, model), members in sorted(groups.items()):
        name = dns_label(f"{group}-{model}" if group else model, "k8s")
        allocatable = [(m[0].get("status") or {}).get("allocatable") or {} for m in members]
        pools[name] = Pool(
            name=name,
            accelerator=model,
            accelerators_per_node=max(min(count for _, count in members), 1),
            cpus_per_node=max(int(min(quantity(a.get("cpu", 0)) for a in allocatable)), 1),
            memory_gb_per_node=max(min(quantity(a.get("memory", 0)) for a in allocatable) / 2**30, 0.001),
            nodes=len(members),
            price_per_accelerator_hour=price,
        )
        placement = Placement()
        if pool_label and group:
            placement.labels[pool_label] = {group}
        products = {((n.get("metadata") or {}).get("labels") or {}).get(GPU_PRODUCT_LABEL) for n, _ in members}
        if model != CPU and None not in products and model not in _MODEL_OF_RESOURCE.values():
            placement.labels[GPU_PRODUCT_LABEL] = {p for p in products if p}
        placements[name] = placement
    return pools, placements
