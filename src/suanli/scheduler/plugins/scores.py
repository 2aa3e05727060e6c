"""Built-in scores, each in [0, 1] with higher better."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from suanli.scheduler.framework import Candidate, CycleContext, ScorePlugin
from suanli.scheduler.packing import Pick, best_fit_pick, fragmentation_pick, random_pick
from suanli.scheduler.request import Shape
from suanli.scheduler.sharing import WHOLE, Demand, SharedNodes, demand_of


class PriceScore(ScorePlugin):
    """The cheapest candidate scores 1; one twice as dear scores 0.5."""

    name = "price"

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        price = candidate.price_per_hour(shape.nodes)
        cheapest = min(c.price_per_hour(shape.nodes) for c in candidates)
        return 1.0 if price <= 0 else cheapest / price


class CarbonScore(ScorePlugin):
    """The lowest-carbon site scores 1, relative to the rest like price."""

    name = "carbon"

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        own = candidate.pool.carbon_intensity
        best = min(c.pool.carbon_intensity for c in candidates)
        return 1.0 if own <= 0 else best / own


class PackingScore(ScorePlugin):
    """Fill pools before fragmenting others: the fuller the pool after placement, the better."""

    name = "packing"
    dynamic = True

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        pool = candidate.pool
        left = pool.free_total - candidate.slots * shape.nodes
        return 1.0 - left / pool.total


class LoadBalanceScore(ScorePlugin):
    """Spread work: the less loaded the center after placement, the better."""

    name = "load-balance"
    dynamic = True

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        load = candidate.pool.load
        used = load.used + candidate.slots * shape.nodes
        return 1.0 - used / load.total if load.total else 0.0


class SpeedScore(ScorePlugin):
    """The fastest model (the catalog's relative throughput) scores 1; one half as fast, 0.5.
    With heterogeneous accelerators this sends work where it finishes soonest."""

    name = "speed"

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        fastest = max(c.pool.throughput for c in candidates)
        return candidate.pool.throughput / fastest if fastest > 0 else 1.0


class _NodeChoosing(ScorePlugin):
    """A score that picks the node too, on pools that share GPUs (scheduler/packing.py): it
    scores a pool by its best node's cost and leaves that node in ``ctx.picks`` for the
    placement. Pools tracked by whole slots have no node detail: they score ``flat``."""

    dynamic = True

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        pool = candidate.pool
        if pool.shared is None or shape.nodes != 1:
            return self.flat(shape, candidate)
        demand = demand_of(shape, candidate.slots)
        pick = self.pick(pool.shared, demand, pool.shared.fits(demand), ctx)
        if pick is None:
            return 0.0
        ctx.picks[pool.index] = pick
        # Costs are milli-GPUs, comparable across pools; squash them into (0, 1), order kept.
        return 0.5 - math.atan(pick[0] / WHOLE) / math.pi

    def pick(self, nodes: SharedNodes, demand: Demand, fits: np.ndarray, ctx: CycleContext) -> Pick | None:
        raise NotImplementedError

    def flat(self, shape: Shape, candidate: Candidate) -> float:
        return 0.5


class FragmentationScore(_NodeChoosing):
    """FGD: the node and GPU where the job grows GPU fragmentation least, measured against the
    target workload (the simulated trace's mix, else the jobs waiting in the cycle)."""

    name = "fragmentation"
    needs_mix = True

    def pick(self, nodes: SharedNodes, demand: Demand, fits: np.ndarray, ctx: CycleContext) -> Pick | None:
        assert ctx.mix is not None, "the cycle sets the mix for scores that need it"
        return fragmentation_pick(nodes, demand, fits, ctx.mix)


class BestFitScore(_NodeChoosing):
    """The node left with the least free GPU share after placement (then the fewest CPUs)."""

    name = "best-fit"

    def pick(self, nodes: SharedNodes, demand: Demand, fits: np.ndarray, ctx: CycleContext) -> Pick | None:
        return best_fit_pick(nodes, demand, fits)

    def flat(self, shape: Shape, candidate: Candidate) -> float:
        return PackingScore().score(shape, candidate, (), CycleContext(0.0))


class RandomScore(_NodeChoosing):
    """Any pool and node that fits, with equal chance (a baseline; seeded, so runs repeat)."""

    name = "random"

    def __init__(self) -> None:
        self.rng = random.Random(0)

    def pick(self, nodes: SharedNodes, demand: Demand, fits: np.ndarray, ctx: CycleContext) -> Pick | None:
        return random_pick(nodes, demand, fits, self.rng)

    def flat(self, shape: Shape, candidate: Candidate) -> float:
        return self.rng.random()
