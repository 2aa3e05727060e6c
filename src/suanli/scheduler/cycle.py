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

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from suanli.domain.errors import InvalidSpec, describe_error
from suanli.scheduler.backfill import BackfillFilter, reserve
from suanli.scheduler.framework import (
    Candidate,
    Choice,
    Code,
    CycleContext,
    CycleResult,
    Decision,
    FilterError,
    FilterPlugin,
    Rejection,
    ScorePlugin,
)
from suanli.scheduler.packing import Mix, shared_best_fit
from suanli.scheduler.plugins.table import FILTERS, QUEUE_ORDERS, SCORES
from suanli.scheduler.registry import PROFILES, Profile
from suanli.scheduler.request import SchedulingRequest, Shape
from suanli.scheduler.sharing import demand_of
from suanli.scheduler.snapshot import Allocation, Snapshot


@dataclass(slots=True)
class _ShapePlan:
    """What static filters and scores said about one shape, computed once per cycle."""

    candidates: list[Candidate]
    base_scores: list[float]
    static_breakdown: list[tuple[tuple[str, float], ...]]
    rejections: tuple[Rejection, ...]
    feasible: tuple[Candidate, ...] = ()  # every static survivor, kept for reservations

    def __post_init__(self) -> None:
        self.feasible = tuple(self.candidates)

    def drop(self, dead: list[tuple[int, str, str]]) -> None:
        """Forget candidates a monotonic filter ruled out; keep why, for jobs that end up waiting."""
        gone = {i for i, _, _ in dead}
        self.rejections += tuple(
            Rejection(self.candidates[i].pool.center, self.candidates[i].pool.name, name, message)
            for i, name, message in dead
        )
        keep = [i for i in range(len(self.candidates)) if i not in gone]
        self.candidates = [self.candidates[i] for i in keep]
        self.base_scores = [self.base_scores[i] for i in keep]
        self.static_breakdown = [self.static_breakdown[i] for i in keep]


class Scheduler:
    def __init__(self, profile: Profile | str = "default") -> None:
        if isinstance(profile, str):
            if profile not in PROFILES:
                known = ", ".join(PROFILES)
                raise InvalidSpec(f"unknown scheduler profile {profile!r}; known: {known}", field="profile")
            profile = PROFILES[profile]
        profile.check_names()
        self.profile = profile
        self.queue_order = QUEUE_ORDERS[profile.queue_order]()
        filters: list[FilterPlugin] = [FILTERS[name]() for name in profile.filters]
        if profile.backfill:
            filters.append(BackfillFilter())
        self.filters = filters
        # Backfill has nothing to check until a job holds a reservation, so it joins only then.
        self.dynamic_filters = [f for f in filters if f.dynamic and not isinstance(f, BackfillFilter)]
        self.reserved_filters = [f for f in filters if f.dynamic]
        scores = [(SCORES[name](), weight) for name, weight in profile.scores.items() if weight > 0]
        self.static_scores: list[tuple[ScorePlugin, float]] = [(s, w) for s, w in scores if not s.dynamic]
        self.dynamic_scores: list[tuple[ScorePlugin, float]] = [(s, w) for s, w in scores if s.dynamic]
        self.dynamic_weight = sum(w for _, w in self.dynamic_scores)  # scores are at most 1
        self.needs_mix = any(s.needs_mix for s, _ in scores)

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
                    status = plugin.check_static(shape, candidate, ctx)
                    if status.code is not Code.FITS:
                        if status.code is Code.ERROR:
                            raise FilterError(plugin.name, status.reason)
                        rejections.append(Rejection(pool.center, pool.name, plugin.name, status.reason))
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
        # Best static score first (stable, so listed alternatives keep their order among equals):
        # once even a perfect dynamic score cannot lift a candidate above the runner-up, stop.
        order = sorted(range(len(candidates)), key=lambda i: -base[i])
        return _ShapePlan(
            [candidates[i] for i in order],
            [base[i] for i in order],
            [breakdown[i] for i in order],
            tuple(rejections),
        )

    # -- step 3, dynamic half: per job (the hot path: keep it lean) ---------------------------
    def _choose(
        self, shape: Shape, plan: _ShapePlan, ctx: CycleContext, filters: list[FilterPlugin]
    ) -> tuple[Choice | None, list[Rejection]]:
        candidates, base = plan.candidates, plan.base_scores
        scores = self.dynamic_scores
        headroom = self.dynamic_weight
        rejected: list[tuple[int, str, str]] = []  # made into Rejections only if the job waits
        dead: list[tuple[int, str, str]] = []
        best = second = -1
        best_total = second_total = -math.inf
        fits, error = Code.FITS, Code.ERROR  # locals: this loop is the hot path
        for i, candidate in enumerate(candidates):
            if base[i] + headroom < second_total:
                break  # neither this nor any later candidate can change the winner or runner-up
            for plugin in filters:
                status = plugin.check(shape, candidate, ctx)
                if status.code is not fits:
                    if status.code is error:
                        raise FilterError(plugin.name, status.reason)
                    (dead if plugin.monotonic else rejected).append((i, plugin.name, status.reason))
                    break
            else:
                total = base[i]
                for score, weight in scores:
                    total += weight * score.score(shape, candidate, candidates, ctx)
                # Highest score wins; among equals the earlier candidate (its alternative came first).
                if total > best_total:
                    second, second_total, best, best_total = best, best_total, i, total
                elif total > second_total:
                    second, second_total = i, total
        if best < 0:
            waiting = [
                Rejection(candidates[i].pool.center, candidates[i].pool.name, name, message)
                for i, name, message in rejected
            ]
            if dead:
                plan.drop(dead)
            return None, waiting
        runner_up = (candidates[second].pool.label, second_total) if second >= 0 else None
        choice = self._take(shape, candidates[best], plan.static_breakdown[best], best_total, runner_up, ctx)
        if dead:
            plan.drop(dead)
        return choice, []

    def _take(
        self,
        shape: Shape,
        candidate: Candidate,
        static_scores: tuple[tuple[str, float], ...],
        total: float,
        runner_up: tuple[str, float] | None,
        ctx: CycleContext,
    ) -> Choice:
        pool = candidate.pool
        reservation = ctx.reservation
        guarded = reservation is not None and pool is reservation.pool and not reservation.ends_in_time(shape, ctx.now)
        projected = reservation.projected_free if guarded and reservation else None
        # Scores first: a node-choosing score leaves the node it picked in ctx.picks.
        dynamic = tuple((s.name, w * s.score(shape, candidate, (candidate,), ctx)) for s, w in self.dynamic_scores)
        gpus: tuple[tuple[int, ...], ...] = ()
        demand = None
        if pool.shared is None:
            nodes = pool.choose_nodes(shape.nodes, candidate.slots, projected)
            assert nodes is not None, "a candidate that passed the fit filter has nodes"
            pool.take(nodes, candidate.slots)
        else:
            demand = demand_of(shape, candidate.slots)
            picked = ctx.picks.pop(pool.index, None)
            if picked is not None and projected is None and shape.nodes == 1:
                placement = [(picked[1], picked[2])]
            else:
                placement = shared_best_fit(pool.shared, demand, shape.nodes, projected)
            nodes = [node for node, _ in placement]
            gpus = tuple(on for _, on in placement)
            for node, on in placement:
                pool.take_shared(node, on, demand)
        if projected is not None:
            for node in nodes:
                projected[node] -= candidate.slots
        return Choice(
            center=pool.center,
            pool=pool.name,
            pool_index=pool.index,
            accelerator=pool.accelerator,
            slots=candidate.slots,
            node_indices=tuple(nodes),
            price_per_hour=candidate.price_per_hour(shape.nodes),
            scores=static_scores + dynamic,
            total=total,
            runner_up=runner_up,
            backfilled=reservation is not None,
            gpus=gpus,
            demand=demand,
        )

    def _reservation_settled(self, ctx: CycleContext) -> bool:
        """With the fleet full, later jobs cannot start: a cycle that needs no reasons may stop
        once the backfill reservation, if the profile makes one, is made."""
        return ctx.reservation is not None or not self.profile.backfill

    def _decide(
        self,
        request: SchedulingRequest,
        snapshot: Snapshot,
        ctx: CycleContext,
        plans: dict[Shape, _ShapePlan],
        blocked: dict[Shape, tuple[tuple[Rejection, ...], float]],
        explain_waiting: bool,
    ) -> Decision | None:
        """Step 3 and 4 for one job not known to be blocked: place it, or say why it waits (None:
        a waiting job the caller did not ask to hear about)."""
        shape = request.shape
        key = shape.plan_key
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = self._plan(shape, snapshot, ctx)
        filters = self.dynamic_filters if ctx.reservation is None else self.reserved_filters
        choice, rejected = self._choose(shape, plan, ctx, filters)
        if choice is not None:
            end = ctx.now + shape.time_limit if shape.time_limit is not None else None
            snapshot.allocations[request.job_id] = Allocation(
                request.job_id, choice.pool_index, choice.node_indices, choice.slots, end, choice.gpus, choice.demand
            )
            return Decision(request.job_id, choice=choice)
        reasons = plan.rejections + tuple(rejected)  # plan.rejections now include dropped candidates
        by_backfill = any(r.plugin == BackfillFilter.name for r in rejected)
        blocked[key] = (reasons, _limit(shape) if by_backfill else 0.0)
        decision = Decision(request.job_id, rejections=reasons)
        if self.profile.backfill and ctx.reservation is None and plan.feasible:
            ctx.reservation = decision.reservation = reserve(
                request.job_id, shape, plan.feasible, snapshot.allocations.values(), ctx.now
            )
        return decision if explain_waiting or decision.reservation is not None else None

    # -- the cycle -----------------------------------------------------------------------------
    def run_cycle(
        self, snapshot: Snapshot, queue: Iterable[SchedulingRequest], now: float, *, explain_waiting: bool = True
    ) -> CycleResult:
        """Decide for every job in ``queue``. The snapshot is the cycle's working copy: afterwards
        it holds this cycle's placements too (``Snapshot.undo`` gives one back).

        With ``explain_waiting=False`` (a caller that acts on placements only) the result lists
        the placed jobs and the reservation, and the cycle stops early once no pool has a free
        slot left and the reservation is made: nothing after that could start. The placements
        are the same either way."""
        ctx = CycleContext(now=now, mix=snapshot.mix)
        plans: dict[Shape, _ShapePlan] = {}
        # Capacity only shrinks during a cycle, so a shape that could not start stays unable to.
        # Backfill alone depends on the time limit: a shape it blocked at limit T stays blocked at
        # any limit >= T, while shorter runs are tried again. Entry: (rejections, that T).
        blocked: dict[Shape, tuple[tuple[Rejection, ...], float]] = {}
        decisions: list[Decision] = []
        ordered: Sequence[SchedulingRequest] = self.queue_order.order(list(queue))
        if ctx.mix is None and self.needs_mix:  # no target workload given: keep room for the queue
            ctx.mix = Mix(demand_of(r.shape, r.shape.alternatives[0][1]) for r in ordered if r.shape.alternatives)
        # No pool has a free slot; only a cycle that may stop early looks, after each placement.
        full = not explain_waiting and not _any_free(snapshot)
        for request in ordered:
            known = blocked.get(request.shape.plan_key)  # the common case of a long queue: inline
            if known is not None and _limit(request.shape) >= known[1]:
                if explain_waiting:
                    decisions.append(Decision(request.job_id, rejections=known[0]))
                continue
            try:
                decision = self._decide(request, snapshot, ctx, plans, blocked, explain_waiting)
            except FilterError as error:  # a filter answered ERROR: its reason is the message
                decisions.append(Decision(request.job_id, error=str(error)))
                continue
            except Exception as error:  # one job's failure must never stop everyone else's cycle
                decisions.append(Decision(request.job_id, error=describe_error(error)))
                continue
            if decision is not None:
                decisions.append(decision)
                if decision.choice is not None:
                    full = not explain_waiting and not _any_free(snapshot)
            if full and self._reservation_settled(ctx):
                break
        return CycleResult(decisions, ctx.reservation, shapes_evaluated=len(plans))


def _any_free(snapshot: Snapshot) -> bool:
    """True while some pool has a free slot (a cycle only ever takes slots)."""
    return any(pool.free_total for pool in snapshot.pools)


def _limit(shape: Shape) -> float:
    return math.inf if shape.time_limit is None else shape.time_limit
