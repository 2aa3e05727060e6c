"""Pools from sinfo: one per partition and GPU GRES type, with the catalog model of that type
(or the model the operator declares for untyped ``gpu`` GRES). Partitions without GPUs become
CPU pools whose slots are cores."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.agent.backends.slurm.commands import PartitionNodes
from suanli.domain.accelerators import CPU, AcceleratorCatalog, AcceleratorModel
from suanli.domain.centers import Pool


@dataclass(frozen=True, slots=True)
class Target:
    """Where a pool's jobs go in Slurm."""

    partition: str | None
    gres_type: str | None
    cpu: bool


def pools_from_sinfo(
    rows: list[PartitionNodes],
    catalog: AcceleratorCatalog,
    gpu_model: str | None,
    price: float,
    partitions: list[str] | None = None,
) -> tuple[dict[str, Pool], dict[str, Target]]:
    """Groups sinfo's lines by (partition, GPU type); per-node figures are the smallest node's.
    A GRES type the catalog does not know is added to ``catalog`` under its Slurm name."""
    groups: dict[tuple[str, str | None, bool], list[tuple[PartitionNodes, int]]] = {}
    for row in rows:
        if partitions and row.partition not in partitions:
            continue
        if row.gpus:
            for kind, count in row.gpus.items():
                groups.setdefault((row.partition, kind, False), []).append((row, count))
        else:
            groups.setdefault((row.partition, None, True), []).append((row, row.cpus))
    pools: dict[str, Pool] = {}
    targets: dict[str, Target] = {}
    for (partition, kind, cpu), members in groups.items():
        model = CPU if cpu else _model_for(catalog, gpu_model, partition, kind)
        name = pool_name(partition if cpu or kind is None else f"{partition}-{kind}")
        pools[name] = Pool(
            name=name,
            accelerator=model,
            accelerators_per_node=max(min(count for _, count in members), 1),
            cpus_per_node=max(min(row.cpus for row, _ in members), 1),
            memory_gb_per_node=max(min(row.memory_mb for row, _ in members) / 1024, 0.001),
            nodes=sum(row.nodes for row, _ in members),
            price_per_accelerator_hour=price,
        )
        targets[name] = Target(partition, kind, cpu)
    return pools, targets


def _model_for(catalog: AcceleratorCatalog, gpu_model: str | None, partition: str, kind: str | None) -> str:
    if kind is None:
        if gpu_model is None:
            raise ValueError(
                f"partition {partition} has GPUs without a type (Gres=gpu:N): say which model they are "
                "(gpu_model, the agent's --gpu-model), e.g. A100-80G"
            )
        return gpu_model
    if kind in catalog:
        return catalog.canonical(kind)
    # A type the catalog does not know keeps its Slurm name (the server's catalog needs it too).
    catalog.add(AcceleratorModel(kind, "unknown", 0, 1.0))
    return kind


def pool_name(text: str) -> str:
    """A partition (and type) as a pool name: lower case, letters, digits and dashes."""
    name = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in text.lower()).strip("-")
    while "--" in name:
        name = name.replace("--", "-")
    return name[:63].strip("-") or "slurm"
