"""The pools of the local executor's machine, and which of their device indices are free."""

from __future__ import annotations

from suanli.agent.capacity import (
    Capacity,
    configured_capacity,
    cpu_capacity,
    declared_capacity,
    gpu_capacity,
    query_nvidia_smi,
)
from suanli.agent.executor import AttemptSpec, ExecutorRefused
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.centers import Pool


def machine_capacity(
    catalog: AcceleratorCatalog, pools: list[Pool] | None, declared: str | None, detect_gpus: bool
) -> Capacity:
    """Configured pools, else declared slots, else detected NVIDIA GPUs, else the CPU cores."""
    if pools is not None:
        return configured_capacity(pools, catalog)
    if declared is not None:
        return declared_capacity(declared, catalog)
    gpus = query_nvidia_smi() if detect_gpus else []
    return gpu_capacity(gpus, catalog) if gpus else cpu_capacity()


class LocalPools:
    def __init__(self, capacity: Capacity, catalog: AcceleratorCatalog) -> None:
        self.catalog = catalog
        self.pools = {pool.name: pool for pool in capacity.pools}
        self.free = {name: sorted(indices) for name, indices in capacity.devices.items()}
        # Inherited device masks never reach a job; the kinds this machine has are always set.
        self.hidden_vars = {m.visible_devices_env for m in catalog if m.visible_devices_env}
        self.pool_vars = {self.devices_var(pool) for pool in capacity.pools} - {""}

    def devices_var(self, pool: Pool) -> str:
        return self.catalog.resolve(pool.accelerator).visible_devices_env

    def pool_for(self, spec: AttemptSpec) -> Pool:
        names = ", ".join(f"{p.name} ({p.accelerator})" for p in self.pools.values())
        if spec.nodes < 1 or spec.accelerators_per_node < 0:
            raise ExecutorRefused(f"{spec.key}: nodes must be >= 1 and accelerators per node >= 0")
        if spec.pool:
            if spec.pool not in self.pools:
                raise ExecutorRefused(f"there is no pool {spec.pool!r} here; this machine has {names}")
            return self.pools[spec.pool]
        for pool in self.pools.values():
            if self._same_model(pool.accelerator, spec.accelerator):
                return pool
        if spec.accelerators_per_node == 0:
            return next(iter(self.pools.values()))
        raise ExecutorRefused(f"there is no {spec.accelerator} pool here; this machine has {names}")

    def _same_model(self, a: str, b: str) -> bool:
        if a in self.catalog and b in self.catalog:
            return self.catalog.canonical(a) == self.catalog.canonical(b)
        return a.lower() == b.lower()

    def take(self, pool: Pool, spec: AttemptSpec) -> list[int]:
        """The lowest free indices ``spec`` needs; ExecutorRefused, saying what is free, if too few."""
        free = self.free[pool.name]
        need = spec.accelerators_per_node * spec.nodes
        if need > len(free):
            shape = f"{spec.nodes} x {spec.accelerators_per_node}" if spec.nodes > 1 else str(need)
            raise ExecutorRefused(
                f"not enough {pool.accelerator} free in pool {pool.name}: {spec.key} needs {shape}, "
                f"free now: {len(free)} (indices {', '.join(map(str, free)) or 'none'})"
            )
        taken, free[:] = free[:need], free[need:]
        return taken

    def take_back(self, pool: str, indices: list[int]) -> list[int]:
        """Marks ``indices`` of an adopted attempt busy again; those this machine still has free."""
        free = self.free.get(pool, [])
        taken = [index for index in indices if index in free]
        free[:] = [index for index in free if index not in taken]
        return taken

    def give_back(self, pool: str, indices: list[int]) -> None:
        free = self.free.get(pool)
        if free is not None:
            free.extend(indices)
            free.sort()
