"""Every built-in plugin, by the name a profile calls it (``registry.Profile``).

An explicit table rather than registration on import: a plugin module imports only the framework,
and this module imports the plugins, so there is no cycle and nothing depends on import order.
The backfill filter is not listed: a profile turns it on with ``backfill: true``.
"""

from __future__ import annotations

from suanli.scheduler.framework import FilterPlugin, QueueOrderPlugin, ScorePlugin
from suanli.scheduler.plugins.filters import CenterStateFilter, ConstraintsFilter, FitFilter
from suanli.scheduler.plugins.queue_order import FifoOrder, LeastAttainedService, PriorityOrder, ShortestFirst
from suanli.scheduler.plugins.scores import (
    BestFitScore,
    CarbonScore,
    FragmentationScore,
    LoadBalanceScore,
    PackingScore,
    PriceScore,
    RandomScore,
    SpeedScore,
)

FILTERS: dict[str, type[FilterPlugin]] = {
    "center-state": CenterStateFilter,
    "constraints": ConstraintsFilter,
    "fit": FitFilter,
}

SCORES: dict[str, type[ScorePlugin]] = {
    "price": PriceScore,
    "carbon": CarbonScore,
    "packing": PackingScore,
    "load-balance": LoadBalanceScore,
    "speed": SpeedScore,
    "fragmentation": FragmentationScore,
    "best-fit": BestFitScore,
    "random": RandomScore,
}

QUEUE_ORDERS: dict[str, type[QueueOrderPlugin]] = {
    "fifo": FifoOrder,
    "priority": PriorityOrder,
    "shortest-first": ShortestFirst,
    "las": LeastAttainedService,
}
