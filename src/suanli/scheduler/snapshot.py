"""The capacity snapshot one scheduling cycle works on.

Each pool keeps per-node free slots and, for speed, buckets of nodes by how many slots they
have free, so "are there N nodes with K free?" costs O(accelerators per node), not O(nodes).
A cycle only ever takes capacity (placements), so a shape that did not fit once in a cycle does
not fit later in it; ``allocate`` returns what ``release`` needs to undo it for what-if checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from suanli.domain.centers import Center
from suanli.scheduler.packing import Mix
from suanli.scheduler.sharing import WHOLE, Demand, SharedNodes


@dataclass(slots=True)
class CenterLoad:
    name: str
    total: int = 0
    used: int = 0


@dataclass(slots=True, eq=False)
class PoolState:
    index: int
    center: str
    name: str
    center_kind: str
    region: str
    center_state: str
    accelerator: str
    per_node: int
    cpus_per_node: int
    memory_gb_per_node: float
    nodes: int
    price: float  # per accelerator-hour
    carbon_intensity: float
    throughput: float
    load: CenterLoad
    free: list[int] = field(default_factory=list)
    # buckets[f] lists the nodes with exactly f slots free; slot_of[node] is its place in that
    # list, so a node moves between buckets in O(1) (swap with the last, pop).
    buckets: list[list[int]] = field(default_factory=list)
    slot_of: list[int] = field(default_factory=list)
    free_total: int = 0
    total: int = 0
    # Set for a pool whose GPUs jobs share: its nodes tracked GPU by GPU (scheduler/sharing.py);
    # ``free`` then counts each node's wholly free GPUs.
    shared: SharedNodes | None = None

    def __post_init__(self) -> None:
        self.total = self.per_node * self.nodes
        if not self.free:
            self.free = [self.per_node] * self.nodes
        self.buckets = [[] for _ in range(self.per_node + 1)]
        self.slot_of = [0] * self.nodes
        for node, slots in enumerate(self.free):
            self.slot_of[node] = len(self.buckets[slots])
            self.buckets[slots].append(node)
        self.free_total = sum(self.free)

    @property
    def label(self) -> str:
        return f"{self.center}/{self.name}"

    def nodes_with(self, slots: int) -> int:
        """How many nodes have at least ``slots`` free."""
        buckets = self.buckets
        return sum(len(buckets[f]) for f in range(slots, self.per_node + 1))

    def max_free_on_a_node(self) -> int:
        for f in range(self.per_node, 0, -1):
            if self.buckets[f]:
                return f
        return 0

    def choose_nodes(self, count: int, slots: int, also_free: Sequence[int] | None = None) -> list[int] | None:
        """Best fit: the fullest nodes that still have ``slots`` free; None when too few.

        ``also_free`` is a second per-node capacity every chosen node must also satisfy
        (the projected free slots under a backfill reservation).
        """
        buckets = self.buckets
        if count == 1 and also_free is None:  # the common case: one node
            for f in range(slots, self.per_node + 1):
                if buckets[f]:
                    return [buckets[f][-1]]
            return None
        chosen: list[int] = []
        for f in range(slots, self.per_node + 1):
            bucket = buckets[f]
            if also_free is None:
                chosen.extend(bucket[-(count - len(chosen)) :])
                if len(chosen) == count:
                    return chosen
                continue
            for node in reversed(bucket):
                if also_free[node] >= slots:
                    chosen.append(node)
                    if len(chosen) == count:
                        return chosen
        return None

    def _move(self, node: int, before: int, after: int) -> None:
        buckets, slot_of = self.buckets, self.slot_of
        bucket = buckets[before]
        last = bucket.pop()
        if last != node:
            bucket[slot_of[node]] = last
            slot_of[last] = slot_of[node]
        target = buckets[after]
        slot_of[node] = len(target)
        target.append(node)
        self.free[node] = after

    def take(self, nodes: Iterable[int], slots: int) -> None:
        free = self.free
        n = 0
        for node in nodes:
            self._move(node, free[node], free[node] - slots)
            n += 1
        self.free_total -= n * slots
        self.load.used += n * slots

    def give_back(self, nodes: Iterable[int], slots: int) -> None:
        free = self.free
        n = 0
        for node in nodes:
            self._move(node, free[node], free[node] + slots)
            n += 1
        self.free_total += n * slots
        self.load.used -= n * slots

    def take_shared(self, node: int, gpus: tuple[int, ...], demand: Demand) -> None:
        assert self.shared is not None
        self.shared.take(node, gpus, demand)
        self._sync(node)

    def give_back_shared(self, node: int, gpus: tuple[int, ...], demand: Demand) -> None:
        assert self.shared is not None
        self.shared.give_back(node, gpus, demand)
        self._sync(node)

    def _sync(self, node: int) -> None:
        """Whole-GPU counts follow the node's per-GPU state."""
        assert self.shared is not None
        before, after = self.free[node], self.shared.whole_free(node)
        if after != before:
            self._move(node, before, after)
            self.free_total += after - before
            self.load.used -= after - before


@dataclass(slots=True)
class Allocation:
    """Capacity a job holds (or will hold): where, how much, and until when if known. On a pool
    that shares GPUs, also which GPUs of each node and what it takes there."""

    job_id: int
    pool: int
    node_indices: tuple[int, ...]
    slots: int
    expected_end: float | None
    gpus: tuple[tuple[int, ...], ...] = ()
    demand: Demand | None = None


@dataclass(slots=True)
class Snapshot:
    pools: list[PoolState]
    allocations: dict[int, Allocation]  # by job id: a finished job gives its capacity back in O(1)
    by_model: dict[str, list[PoolState]] = field(default_factory=dict)
    centers: dict[str, CenterLoad] = field(default_factory=dict)
    # The workload fragmentation-aware packing keeps room for; None: the cycle's queue.
    mix: Mix | None = None

    def __post_init__(self) -> None:
        self.by_model = {}
        for pool in self.pools:
            self.by_model.setdefault(pool.accelerator, []).append(pool)
            self.centers[pool.center] = pool.load

    @classmethod
    def build(
        cls,
        centers: Iterable[Center],
        allocations: Iterable[tuple[int, str, str, Sequence[int], int, float | None]],
        throughput: dict[str, float] | None = None,
    ) -> Snapshot:
        """From registered centers and active placements ``(job, center, pool, nodes, slots, end)``.

        A placement on a node that no longer exists (the pool shrank) holds nothing.
        """
        throughput = throughput or {}
        pools: list[PoolState] = []
        index: dict[tuple[str, str], PoolState] = {}
        for center in centers:
            load = CenterLoad(center.name)
            for spec in center.pools:
                pool = PoolState(
                    index=len(pools),
                    center=center.name,
                    name=spec.name,
                    center_kind=center.spec.kind.value,
                    region=center.spec.region,
                    center_state=center.condition,
                    accelerator=spec.accelerator,
                    per_node=spec.accelerators_per_node,
                    cpus_per_node=spec.cpus_per_node,
                    memory_gb_per_node=spec.memory_gb_per_node,
                    nodes=spec.nodes,
                    price=spec.price_per_accelerator_hour,
                    carbon_intensity=spec.carbon_intensity,
                    throughput=throughput.get(spec.accelerator, 1.0),
                    load=load,
                    shared=SharedNodes(
                        spec.nodes, spec.accelerators_per_node, spec.cpus_per_node, spec.memory_gb_per_node
                    )
                    if spec.share_gpus
                    else None,
                )
                load.total += pool.total
                pools.append(pool)
                index[(center.name, spec.name)] = pool
        held: dict[int, Allocation] = {}
        for job_id, center_name, pool_name, nodes, slots, end in allocations:
            holder = index.get((center_name, pool_name))
            if holder is None:
                continue
            valid = tuple(n for n in nodes if n < holder.nodes and holder.free[n] >= slots)
            if holder.shared is None:
                holder.take(valid, slots)
                held[job_id] = Allocation(job_id, holder.index, valid, slots, end)
                continue
            # Placements come back as whole accelerators per node: they take wholly free GPUs.
            demand = Demand(slots, WHOLE, 0, 0)
            gpus = tuple(holder.shared.gpus_for(n, demand) for n in valid)
            for node, on in zip(valid, gpus, strict=True):
                holder.take_shared(node, on, demand)
            held[job_id] = Allocation(job_id, holder.index, valid, slots, end, gpus, demand)
        return cls(pools, held)

    def undo(self, job_ids: Iterable[int]) -> None:
        """Give back what these jobs' allocations hold (a placement that could not be written, or
        work that ended)."""
        for job_id in job_ids:
            allocation = self.allocations.pop(job_id, None)
            if allocation is None:
                continue
            pool = self.pools[allocation.pool]
            if allocation.demand is None:
                pool.give_back(allocation.node_indices, allocation.slots)
                continue
            for node, gpus in zip(allocation.node_indices, allocation.gpus, strict=True):
                pool.give_back_shared(node, gpus, allocation.demand)
