"""Which node of a GPU-sharing pool a job goes to: fragmentation-aware, best fit, or random.

Fragmentation-aware packing follows FGD (Weng et al., "Beware of Fragmentation: Scheduling
GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC'23). A node's GPU
fragmentation for a kind of job is the free GPU capacity that kind cannot use there: all of the
node's free GPU share if the job cannot run on the node at all (too few CPUs, memory or GPUs),
else the free share of the GPUs each too small for it (a partly used GPU for a whole-GPU job, a
GPU with less free than a shared job's share). Weighted by how common each kind is in the target
workload (a :class:`Mix`), that gives the node's expected fragmentation; a job goes to the node,
and GPU, where placing it grows fragmentation least (the steepest descent). As in the paper,
kinds without GPUs are left out of the measure.

Each policy answers with a cost (lower is better) in milli-GPUs, so the scheduler can compare the
best node of one pool with the best of another; the score plugins (``plugins/scores.py``) turn
costs into scores and remember the node for the placement.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from suanli.scheduler.sharing import WHOLE, Demand, SharedNodes

Pick = tuple[float, int, tuple[int, ...]]  # (cost, node, GPUs on it)


class Mix:
    """The target workload: the kinds of GPU demand and how common each is."""

    def __init__(self, demands: Iterable[Demand]) -> None:
        counts = Counter(d for d in demands if d.gpus > 0)
        kinds = list(counts)
        total = float(sum(counts.values())) or 1.0
        self.kinds = kinds
        self.weight = np.array([counts[k] / total for k in kinds])
        self.cpu = np.array([k.cpu_milli for k in kinds], dtype=np.int64)
        self.mem = np.array([k.memory_mib for k in kinds], dtype=np.int64)
        # The GPU side depends only on (GPUs, share): computed once per such pair, not per kind.
        pairs = sorted({(k.gpus, k.milli) for k in kinds})
        self.pairs = pairs
        self.pair_of = np.array([pairs.index((k.gpus, k.milli)) for k in kinds], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.kinds)

    def fragmentation(self, gpu: np.ndarray, cpu: np.ndarray, mem: np.ndarray) -> np.ndarray:
        """Expected fragmentation (milli-GPUs) of each node state: rows of ``gpu`` (free milli per
        GPU), with its free ``cpu`` (milli-cores) and ``mem`` (MiB)."""
        total = gpu.sum(axis=1).astype(np.float64)
        if not self.kinds:
            return np.zeros(len(gpu))
        widest = gpu.max(axis=1)
        whole = (gpu == WHOLE).sum(axis=1)
        gpu_fits = np.empty((len(gpu), len(self.pairs)), dtype=bool)
        unusable = np.empty((len(gpu), len(self.pairs)))
        for j, (count, milli) in enumerate(self.pairs):
            if milli < WHOLE:
                gpu_fits[:, j] = widest >= milli
            else:
                gpu_fits[:, j] = whole >= count
            unusable[:, j] = (gpu * (gpu < milli)).sum(axis=1)
        fits = (cpu[:, None] >= self.cpu[None, :]) & (mem[:, None] >= self.mem[None, :]) & gpu_fits[:, self.pair_of]
        frag = np.where(fits, unusable[:, self.pair_of], total[:, None])
        return np.asarray(frag @ self.weight)


@dataclass(slots=True)
class _Deltas:
    """Per node, for one (mix, demand): the best growth in fragmentation and the GPU giving it,
    valid while the node's version is ``version``."""

    version: np.ndarray
    delta: np.ndarray
    gpu: np.ndarray


def fragmentation_pick(nodes: SharedNodes, demand: Demand, fits: np.ndarray, mix: Mix) -> Pick | None:
    """The fitting node and GPU where ``demand`` grows the pool's fragmentation least."""
    candidates = np.flatnonzero(fits)
    if not len(candidates):
        return None
    key = (id(mix), demand)
    cached = nodes.cache.get(key)
    if not isinstance(cached, _Deltas):
        n = len(nodes.version)
        cached = nodes.cache[key] = _Deltas(np.full(n, -1), np.zeros(n), np.zeros(n, dtype=np.int64))
    stale = candidates[cached.version[candidates] != nodes.version[candidates]]
    if len(stale):  # only nodes that changed since this kind of job last looked
        delta, gpu = _deltas(nodes, stale, demand, mix)
        cached.delta[stale], cached.gpu[stale], cached.version[stale] = delta, gpu, nodes.version[stale]
    # Equal growth (common: most placements of a CPU-only job change nothing) goes to the node
    # with the least GPU share left, as best fit would; the term is far below any real difference.
    cost = cached.delta[candidates] + 1e-6 * nodes.gpu[candidates].sum(axis=1)
    at = int(cost.argmin())
    best = int(candidates[at])
    gpu_choice = int(cached.gpu[best]) if demand.gpus == 1 and demand.milli < WHOLE else None
    return float(cost[at]), best, nodes.gpus_for(best, demand, gpu_choice)


def _deltas(nodes: SharedNodes, rows: np.ndarray, demand: Demand, mix: Mix) -> tuple[np.ndarray, np.ndarray]:
    gpu, cpu, mem = nodes.gpu[rows], nodes.cpu[rows], nodes.mem[rows]
    before = mix.fragmentation(gpu, cpu, mem)
    cpu_after, mem_after = cpu - demand.cpu_milli, mem - demand.memory_mib
    if demand.gpus == 1 and demand.milli < WHOLE:
        # Every GPU is an option: row i*G+g is node i with the share taken from its GPU g.
        per = gpu.shape[1]
        after = np.repeat(gpu, per, axis=0)
        which = np.tile(np.arange(per), len(rows))
        after[np.arange(len(after)), which] -= demand.milli
        frag = mix.fragmentation(after, np.repeat(cpu_after, per), np.repeat(mem_after, per)).reshape(len(rows), per)
        frag[gpu < demand.milli] = np.inf
        choice = frag.argmin(axis=1)
        return frag[np.arange(len(rows)), choice] - before, choice
    after = gpu.copy()
    if demand.gpus:  # whole GPUs are all alike: take the first free ones
        free = after == WHOLE
        after[free & (np.cumsum(free, axis=1) <= demand.gpus)] = 0
    return mix.fragmentation(after, cpu_after, mem_after) - before, np.zeros(len(rows), dtype=np.int64)


def best_fit_pick(nodes: SharedNodes, demand: Demand, fits: np.ndarray) -> Pick | None:
    """The fitting node with the least GPU share left after placement (then the fewest CPUs)."""
    candidates = np.flatnonzero(fits)
    if not len(candidates):
        return None
    left = nodes.gpu[candidates].sum(axis=1) - demand.share * WHOLE
    cpu_left = (nodes.cpu[candidates] - demand.cpu_milli) / max(1, int(nodes.cpu.max()))
    cost = left + cpu_left  # a CPU fraction (< 1 milli-GPU) only breaks ties
    best = int(cost.argmin())
    node = int(candidates[best])
    return float(cost[best]), node, nodes.gpus_for(node, demand)


def random_pick(nodes: SharedNodes, demand: Demand, fits: np.ndarray, rng: random.Random) -> Pick | None:
    """Any fitting node, and any GPU on it with room, with equal chance."""
    candidates = np.flatnonzero(fits)
    if not len(candidates):
        return None
    node = int(candidates[rng.randrange(len(candidates))])
    gpu = None
    if demand.gpus == 1 and demand.milli < WHOLE:
        room = np.flatnonzero(nodes.gpu[node] >= demand.milli)
        gpu = int(room[rng.randrange(len(room))])
    return rng.random() * WHOLE, node, nodes.gpus_for(node, demand, gpu)


def shared_best_fit(
    nodes: SharedNodes, demand: Demand, count: int, also_free: Sequence[int] | None = None
) -> list[tuple[int, tuple[int, ...]]]:
    """``count`` distinct nodes for a placement, best fit first: where no node-choosing score
    picked one (gangs, a backfill reservation's view, or profiles without such a score)."""
    fits = nodes.fits(demand, also_free).copy()
    chosen: list[tuple[int, tuple[int, ...]]] = []
    for _ in range(count):
        pick = best_fit_pick(nodes, demand, fits)
        assert pick is not None, "a candidate that passed the fit filter has nodes"
        chosen.append((pick[1], pick[2]))
        fits[pick[1]] = False
    return chosen
