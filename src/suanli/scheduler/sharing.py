"""Pools whose GPUs jobs share: each node tracked GPU by GPU, with its CPUs and memory.

A pool that declares ``share_gpus`` lets a one-GPU job ask for part of a GPU (``gpu_milli`` <
1000, as GPU-sharing device plugins offer) and lets a job without accelerators use the node's
CPUs. Its nodes are then tracked in detail: each GPU's free share in milli-GPUs, and each node's
free CPU (milli-cores) and memory (MiB). The pool's whole-slot counts (``PoolState.free``) still
say how many GPUs of a node are wholly free, so pool-level scores read the same numbers as for
other pools.

Arrays, not objects: the packing policies (``scheduler/packing.py``) compare every node of a pool
for every job, which numpy does in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from suanli.scheduler.request import Shape

WHOLE = 1000  # milli-GPUs in one GPU


@dataclass(frozen=True, slots=True)
class Demand:
    """What a job takes on each of its nodes: ``gpus`` GPUs with ``milli`` of each (``WHOLE`` for
    whole GPUs; below it only when ``gpus`` is 1), CPU in milli-cores and memory in MiB."""

    gpus: int
    milli: int
    cpu_milli: int
    memory_mib: int

    @property
    def share(self) -> float:
        """GPUs it holds on a node, counting a shared GPU by its share."""
        return self.gpus * self.milli / WHOLE

    def describe(self) -> str:
        gpus = f"{self.milli / WHOLE:g} of a GPU" if self.milli < WHOLE else f"{self.gpus} whole GPU(s)"
        return f"{gpus}, {self.cpu_milli / 1000:g} CPUs and {self.memory_mib / 1024:g} GB"


@lru_cache(maxsize=4096)
def demand_of(shape: Shape, slots: int) -> Demand:
    """What a shape takes on each node when it runs with ``slots`` accelerators per node."""
    milli = shape.gpu_milli if slots == 1 else WHOLE
    return Demand(slots, milli, round(shape.cpus * 1000), round(shape.memory_gb * 1024))


class SharedNodes:
    """Free capacity per node and per GPU. ``version[n]`` grows whenever node ``n`` changes, so
    per-node answers computed earlier (the packing caches) know when they are stale."""

    def __init__(self, nodes: int, per_node: int, cpus_per_node: float, memory_gb_per_node: float) -> None:
        self.per_node = per_node
        self.gpu = np.full((nodes, per_node), WHOLE, dtype=np.int32)
        self.cpu = np.full(nodes, int(round(cpus_per_node * 1000)), dtype=np.int64)
        self.mem = np.full(nodes, int(round(memory_gb_per_node * 1024)), dtype=np.int64)
        self.version = np.zeros(nodes, dtype=np.int64)
        self.changes = 0  # grows with every change to any node
        self.cache: dict[object, object] = {}  # for packing policies, keyed as they like
        self._fits: dict[Demand, tuple[int, np.ndarray]] = {}

    def fits(self, demand: Demand, also_free: Sequence[int] | None = None) -> np.ndarray:
        """Which nodes can take ``demand`` now (a boolean mask). ``also_free`` is a second per-node
        count of whole GPUs every chosen node must also have (a backfill reservation's view).
        Filters, scores and the placement all ask, so the answer is kept until a node changes."""
        if also_free is None:
            known = self._fits.get(demand)
            if known is not None and known[0] == self.changes:
                return known[1]
        ok = (self.cpu >= demand.cpu_milli) & (self.mem >= demand.memory_mib)
        if demand.gpus == 1 and demand.milli < WHOLE:
            ok &= self.gpu.max(axis=1) >= demand.milli
        elif demand.gpus:
            ok &= (self.gpu == WHOLE).sum(axis=1) >= demand.gpus
        if also_free is not None:
            ok &= np.asarray(also_free) >= (1 if demand.milli < WHOLE else demand.gpus)
        else:
            self._fits[demand] = (self.changes, ok)
        return ok

    def gpus_for(self, node: int, demand: Demand, gpu: int | None = None) -> tuple[int, ...]:
        """The GPUs a placement on ``node`` takes: for a shared GPU, ``gpu`` if given, else the one
        it fits most tightly; for whole GPUs, the first wholly free ones."""
        row = self.gpu[node]
        if demand.gpus == 0:
            return ()
        if demand.milli < WHOLE:
            if gpu is not None:
                return (gpu,)
            room = np.where(row >= demand.milli, row, WHOLE + 1)
            return (int(room.argmin()),)
        return tuple(int(g) for g in np.flatnonzero(row == WHOLE)[: demand.gpus])

    def take(self, node: int, gpus: tuple[int, ...], demand: Demand) -> None:
        self._add(node, gpus, demand, -1)

    def give_back(self, node: int, gpus: tuple[int, ...], demand: Demand) -> None:
        self._add(node, gpus, demand, 1)

    def whole_free(self, node: int) -> int:
        return int((self.gpu[node] == WHOLE).sum())

    def _add(self, node: int, gpus: tuple[int, ...], demand: Demand, sign: int) -> None:
        for g in gpus:
            self.gpu[node, g] += sign * demand.milli
        self.cpu[node] += sign * demand.cpu_milli
        self.mem[node] += sign * demand.memory_mib
        self.version[node] += 1
        self.changes += 1
