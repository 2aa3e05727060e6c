"""Built-in scores, each in [0, 1] with higher better."""

from __future__ import annotations

from collections.abc import Sequence

from suanli.scheduler.framework import Candidate, CycleContext, ScorePlugin
from suanli.scheduler.registry import register_score
from suanli.scheduler.request import Shape


@register_score
class PriceScore(ScorePlugin):
    """The cheapest candidate scores 1; one twice as dear scores 0.5."""

    name = "price"

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        price = candidate.price_per_hour(shape.nodes)
        cheapest = min(c.price_per_hour(shape.nodes) for c in candidates)
        return 1.0 if price <= 0 else cheapest / price


@register_score
class CarbonScore(ScorePlugin):
    """The lowest-carbon site scores 1, relative to the rest like price."""

    name = "carbon"

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        own = candidate.pool.carbon_intensity
        best = min(c.pool.carbon_intensity for c in candidates)
        return 1.0 if own <= 0 else best / own


@register_score
class PackingScore(ScorePlugin):
    """Fill pools before fragmenting others: the fuller the pool after placement, the better."""

    name = "packing"
    dynamic = True

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        pool = candidate.pool
        left = pool.free_total - candidate.slots * shape.nodes
        return 1.0 - left / pool.total


@register_score
class LoadBalanceScore(ScorePlugin):
    """Spread work: the less loaded the center after placement, the better."""

    name = "load-balance"
    dynamic = True

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        load = candidate.pool.load
        used = load.used + candidate.slots * shape.nodes
        return 1.0 - used / load.total if load.total else 0.0


@register_score
class SpeedScore(ScorePlugin):
    """The fastest model (the catalog's relative throughput) scores 1; one half as fast, 0.5.
    With heterogeneous accelerators this sends work where it finishes soonest."""

    name = "speed"

    def score(self, shape: Shape, candidate: Candidate, candidates: Sequence[Candidate], ctx: CycleContext) -> float:
        fastest = max(c.pool.throughput for c in candidates)
        return candidate.pool.throughput / fastest if fastest > 0 else 1.0
