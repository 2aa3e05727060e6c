"""One scheduling cycle: (capacity snapshot, queue, now) -> decisions. Pure: no I/O, no clock.

The steps:
  1. take the snapshot (the caller builds it; the cycle consumes it as its working copy),
  2. order the queue with the profile's queue-order plugin,
  3. for each job: filter candidate pools (static filters once per job shape, dynamic ones per
     job), score the survivors, reserve the best,
  4. backfill: once a job cannot start it holds a reservation, and later jobs may start only if
     they do not delay it,
  5. return decisions, each with reasons a person can read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from suanli.scheduler.backfill import BackfillFilter, reserve
from suanli.scheduler.framework import (
    Candidate,
    Choice,
    CycleContext,
    CycleResult,
    Decision,
    FilterPlugin,
    Rejection,
    ScorePlugin,
)
from suanli.scheduler.registry import FILTERS, PROFILES, QUEUE_ORDERS, SCORES, Profile, _load_builtins
from suanli.scheduler.request import SchedulingRequest, Shape
from suanli.scheduler.snapshot import Allocation, Snapshot


@dataclass(slots=True)
class _ShapePlan:
    """What static filters and scores said about one shape, computed once per cycle."""

    candidates: list[Candidate]
    base_scores: list[float]
    static_breakdown: list[tuple[tuple[str, float], ...]]
    rejections: tuple[Rejection, ...]


class Scheduler:
    def __init__(self, profile: Profile | str = "default") -> None:
        _load_builtins()
        if isinstance(profile, str):
            profile = PROFILES[profile]
        profile.check_names()
        self.profile = profile
        self.queue_order = QUEUE_ORDERS[profile.queue_order]()
        filters: list[FilterPlugin] = [FILTERS[name]() for name in profile.filters]
        if profile.backfill:
            filters.append(BackfillFilter())
        self.filters = filters
        self.dynamic_filters = [f for f in filters if f.dynamic]
        scores = [(SCORES[name](), weight) for name, weight in profile.scores.items() if weight > 0]
        self.static_scores: list[tuple[ScorePlugin, float]] = [(s, w) for s, w in scores if not s.dynamic]
        self.dynamic_scores: list[tuple[ScorePlugin, float]] = [(s, w) for s, w in scores if s.dynamic]

    # -- step 3, static half: once per shape ---------------------------------------------------
    def _plan(self, shape: Shape, snapshot: Snapshot, ctx: CycleContext) -> _ShapePlan:
        rejections: list[Rejection] = []
        candidates: list[Candidate] = []
        offered: set[str] = set()
        for model, slots in shape.alternatives:
            for pool in snapshot.by_model.get(model, ()):
                offered.add(pool.center)
                candidate = Candidate(pool, model, slots)
                for plugin in self.filters:
                    message = plugin.check_static(shape, candidate, ctx)
                    if message is not None:
                        rejections.append(Rejection(pool.center, pool.name, plugin.name, message))
                        break
                else:
                    candidates.append(candidate)
        wanted = " or ".join(model for model, _ in shape.alternatives)
        for center in snapshot.centers:
            if center not in offered:
                rejections.append(Rejection(center, None, "fit", f"has no {wanted} pool"))
        breakdown = [
            tuple((s.name, w * s.score(shape, c, candidates, ctx)) for s, w in self.static_scores) for c in candidates
        ]
        base = [sum(v for _, v in parts) for parts in breakdown]
        return _ShapePlan(candidates, base, breakdown, tuple(rejections))

    # -- step 3, dynamic half: per job ---------------------------------------------------------
    def _choose(
        self, job_id: int, shape: Shape, plan: _ShapePlan, ctx: CycleContext
    ) -> tuple[Choice | None, list[Rejection]]:
        survivors: list[tuple[float, int]] = []
        rejected: list[Rejection] = []
        for i, candidate in enumerate(plan.candidates):
            for plugin in self.dynamic_filters:
                message = plugin.check(shape, candidate, ctx)
                if message is not None:
                    rejected.append(Rejection(candidate.pool.center, candidate.pool.name, plugin.name, message))
                    break
            else:
                survivors.append((plan.base_scores[i], i))
        if not survivors:
            return None, rejected
        if self.dynamic_scores:
            alive = [plan.candidates[i] for _, i in survivors]
            survivors = [
                (base + sum(w * s.score(shape, plan.candidates[i], alive, ctx) for s, w in self.dynamic_scores), i)
                for base, i in survivors
            ]
        # Highest score wins; among equals the earlier candidate (its alternative was listed first).
        best_total, best = max(survivors, key=lambda t: (t[0], -t[1]))
        runner_up = None
        if len(survivors) > 1:
            second = max((t for t in survivors if t[1] != best), key=lambda t: (t[0], -t[1]))
            runner_up = (plan.candidates[second[1]].pool.label, second[0])
        return self._take(shape, plan, best, best_total, runner_up, ctx), rejected

    def _take(
        self,
        shape: Shape,
        plan: _ShapePlan,
        index: int,
        total: float,
        runner_up: tuple[str, float] | None,
        ctx: CycleContext,
    ) -> Choice:
        candidate = plan.candidates[index]
        pool = candidate.pool
        reservation = ctx.reservation
        guarded = (
            reservation is not None and pool is reservation.pool and not reservation.ends_in_time(shape, ctx.now)
        )
        projected = reservation.projected_free if guarded and reservation else None
        nodes = pool.choose_nodes(shape.nodes, candidate.slots, projected)
        assert nodes is not None, "a candidate that passed the fit filter has nodes"
        if projected is not None:
            for node in nodes:
                projected[node] -= candidate.slots
        dynamic = tuple((s.name, w * s.score(shape, candidate, [candidate], ctx)) for s, w in self.dynamic_scores)
        pool.take(nodes, candidate.slots)
        return Choice(
            center=pool.center,
            pool=pool.name,
            pool_index=pool.index,
            accelerator=pool.accelerator,
            slots=candidate.slots,
            node_indices=tuple(nodes),
            price_per_hour=candidate.price_per_hour(shape.nodes),
            scores=plan.static_breakdown[index] + dynamic,
            total=total,
            runner_up=runner_up,
            backfilled=reservation is not None,
        )

    # -- the cycle -----------------------------------------------------------------------------
    def run_cycle(self, snapshot: Snapshot, queue: Iterable[SchedulingRequest], now: float) -> CycleResult:
        ctx = CycleContext(now=now)
        plans: dict[Shape, _ShapePlan] = {}
        # Capacity only shrinks during a cycle, so a shape that could not start stays unable to.
        blocked: dict[Shape, tuple[Rejection, ...]] = {}
        allocations: list[Allocation] = list(snapshot.allocations)
        decisions: list[Decision] = []
        ordered: Sequence[SchedulingRequest] = self.queue_order.order(list(queue))
        for request in ordered:
            shape = request.shape
            known = blocked.get(shape)
            if known is not None:
                decisions.append(Decision(request.job_id, rejections=known))
                continue
            plan = plans.get(shape)
            if plan is None:
                plan = plans[shape] = self._plan(shape, snapshot, ctx)
            choice, rejected = self._choose(request.job_id, shape, plan, ctx)
            if choice is not None:
                end = now + shape.time_limit if shape.time_limit is not None else None
                allocation = Allocation(request.job_id, choice.pool_index, choice.node_indices, choice.slots, end)
                allocations.append(allocation)
                decisions.append(Decision(request.job_id, choice=choice))
                continue
            reasons = plan.rejections + tuple(rejected)
            blocked[shape] = reasons
            decision = Decision(request.job_id, rejections=reasons)
            if self.profile.backfill and ctx.reservation is None and plan.candidates:
                ctx.reservation = decision.reservation = reserve(
                    request.job_id, shape, plan.candidates, allocations, now
                )
            decisions.append(decision)
        return CycleResult(decisions, ctx.reservation, shapes_evaluated=len(plans))
