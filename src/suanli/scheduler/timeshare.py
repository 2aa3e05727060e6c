"""Time-sharing policies: which jobs run on which accelerator model for the next round.

Gavel-style max-min fairness (Narayanan et al., OSDI'20): a linear program gives each active job
a share ``X[j][m]`` of each model's time that maximizes the smallest normalized throughput; each
round the jobs furthest behind their share run first. The heterogeneity-aware variant weighs
each model by the job's measured throughput on it; the agnostic one counts every model as equal
(time is time), as schedulers that ignore heterogeneity do.

The LP is solved per class of identical jobs (same throughputs and size): for max-min fairness a
symmetric optimum exists, so identical jobs get identical shares, and the LP stays small however
many jobs wait. HiGHS (highspy, its own Python bindings) solves it; the matrices are built sparse, column-wise,
in one go, and one HiGHS model per LP is kept between calls, changed only where the new LP
differs (a class gained or lost a job), so the next solve starts from the last optimal basis.

``FairThroughput`` is Suanli's own policy for average JCT: each round, the assignment of jobs to
models with the most normalized throughput, each job weighted by how far behind it is (its
finish-time fairness so far); see its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import highspy
import numpy as np
from highspy._core import _Highs
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]


@dataclass(frozen=True, slots=True)
class ShareJob:
    job_id: int
    accelerators: int  # it holds this many of one model when it runs
    throughputs: Mapping[str, float]  # per model, steps/s (or relative speed); 0: cannot run there
    received: Mapping[str, float]  # seconds it has run on each model
    active_s: float  # seconds since it arrived
    # Oracle (only for policies that want it): the seconds it still needs alone on each model,
    # and its whole run time alone on its fastest model.
    remaining_s: Mapping[str, float] | None = None
    ideal_s: float = 0.0
    running_on: str = ""  # the model it runs on now, "" if it waits


Allocation = dict[int, dict[str, float]]  # job -> model -> share of time


class TimeSharePolicy(Protocol):
    """A round-based policy: ``allocate`` (when the set of jobs changes) gives each job its share
    of each model's time; ``assign`` (each round) picks who runs on which model."""

    name: str
    wants_remaining: bool  # whether it reads ShareJob.remaining_s (oracle remaining work)

    def allocate(self, jobs: Sequence[ShareJob], capacity: Mapping[str, int]) -> Allocation: ...

    def assign(
        self, jobs: Sequence[ShareJob], allocation: Allocation, capacity: Mapping[str, int]
    ) -> list[tuple[int, str]]: ...


def time_share_policy(name: str) -> TimeSharePolicy:
    """The policy a profile's ``time_share`` names."""
    if name in ("max-min-fairness", "max-min-fairness-agnostic"):
        return MaxMinFairness(aware=name == "max-min-fairness")
    if name in ("fair-throughput", "fair-throughput-attained"):
        return FairThroughput(oracle=name == "fair-throughput")
    raise ValueError(f"unknown time-sharing policy {name!r}")


class MaxMinFairness:
    wants_remaining = False  # it reads no job's remaining work

    def __init__(self, aware: bool = True) -> None:
        self.aware = aware
        self.name = "max-min-fairness" if aware else "max-min-fairness-agnostic"
        self._keys: dict[int, tuple[object, int, tuple[str, ...], tuple[float, ...]]] = {}
        self._lp_fair, self._lp_even = _LinearProgram(), _LinearProgram()

    def allocate(self, jobs: Sequence[ShareJob], capacity: Mapping[str, int]) -> Allocation:
        """Each job's share of each model's time, maximizing the least normalized throughput."""
        models = [m for m, n in capacity.items() if n > 0]
        if not jobs or not models:
            return {}
        classes = self._classes(jobs, models)
        keys = sorted(classes)  # the same classes, the same LP columns, round after round
        speed = np.array([key[1:] for key in keys], dtype=float)  # class x model
        size = np.array([float(key[0]) for key in keys])
        count = np.array([float(len(classes[k])) for k in keys])
        cap = np.array([float(capacity[m]) for m in models])
        x = self._max_min_shares(speed, size, count, cap)
        out: Allocation = {}
        for c, key in enumerate(keys):
            # One dict per class, shared by its jobs (they are identical; callers only read it).
            shares = {models[m]: float(x[c][m]) for m in range(len(models)) if x[c][m] > 1e-9}
            for job in classes[key]:
                out[job.job_id] = shares
        return out

    def _max_min_shares(self, speed: np.ndarray, size: np.ndarray, count: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """The class x model shares: the max-min LP, then among its optima the one closest to
        proportional (see ``_closest_to_proportional``)."""
        n_c, n_m = speed.shape
        n = n_c * n_m
        total = float(cap.sum())
        # Normalize by what the job would get from an equal share of every model (Gavel's
        # proportional allocation), so a job that is slow everywhere is not favoured or starved.
        share = min(1.0, total / max(1.0, float((count * size).sum())))
        proportional = cap / total * share
        # Normalized throughput is speed / (equal * share); the LPs use speed / equal (gain, which
        # does not move with the load, so successive LPs differ in fewer numbers) and find the
        # optimum t times share.
        equal = speed @ (cap / total)
        equal[equal <= 0] = 1.0
        gain = speed / equal[:, None]  # normalized throughput per unit of share, times share
        upper = np.where(speed > 0, 1.0, 0.0).ravel()  # a job cannot use a model it has no speed on
        # Rows: c: t - sum_m gain[c][m] X[c][m] <= 0;  n_c + c: sum_m X[c][m] <= 1;
        # 2 n_c + m: sum_c count[c] size[c] X[c][m] <= capacity[m]. Columns X row-major, then t.
        rows_x, values_x = _share_columns(gain, count * size)
        rows = np.concatenate([rows_x.ravel(), np.arange(n_c)])
        values = np.concatenate([values_x.ravel(), np.ones(n_c)])
        starts = np.concatenate([np.arange(0, 3 * n + 1, 3), [3 * n + n_c]])
        row_upper = np.concatenate([np.zeros(n_c), np.ones(n_c), cap])
        cost = np.zeros(n + 1)
        cost[-1] = -1.0
        solved = self._lp_fair.solve(
            _Lp(cost, starts, rows, values, row_upper, np.zeros(n + 1), np.append(upper, np.inf))
        )
        if solved is None:
            raise RuntimeError("the max-min fairness LP failed")
        best = float(solved[-1])
        return _closest_to_proportional(self._lp_even, gain, count, size, cap, best, np.tile(proportional, n_c), upper)

    def assign(
        self, jobs: Sequence[ShareJob], allocation: Allocation, capacity: Mapping[str, int]
    ) -> list[tuple[int, str]]:
        """Who runs on which model this round: the (job, model) pairs furthest behind their share
        (share over time received there) first, each job on one model, while the model has room."""
        pairs: list[tuple[float, float, int, int, str]] = []
        append, inf = pairs.append, math.inf
        for job in jobs:
            wanted_on = allocation.get(job.job_id)
            if not wanted_on:
                continue
            received, active = job.received, job.active_s
            total = sum(received.values())
            for model, wanted in wanted_on.items():
                got = received.get(model, 0.0) / active if active > 0 else 0.0
                # Sorted ascending: the highest priority first; ties (jobs that never ran on a
                # model have infinite priority on it) go to the job that has run least in all,
                # then by id, then in the order of its shares.
                append((-inf if got <= 0 else -(wanted / got), total, job.job_id, len(pairs), model))
        pairs.sort()
        free = dict(capacity)
        size = {job.job_id: job.accelerators for job in jobs}
        chosen: list[tuple[int, str]] = []
        placed: set[int] = set()
        for _, _, job_id, _, model in pairs:
            if job_id in placed or free.get(model, 0) < size[job_id]:
                continue
            free[model] -= size[job_id]
            placed.add(job_id)
            chosen.append((job_id, model))
        return chosen

    def _speed(self, job: ShareJob, model: str) -> float:
        measured = job.throughputs.get(model, 0.0)
        if not self.aware:
            return 1.0 if measured > 0 or not job.throughputs else 0.0
        return measured

    def _class_key(self, job: ShareJob, models: Sequence[str]) -> tuple[float, ...]:
        return (float(job.accelerators), *(round(self._speed(job, m), 9) for m in models))

    def _classes(self, jobs: Sequence[ShareJob], models: Sequence[str]) -> dict[tuple[float, ...], list[ShareJob]]:
        """Jobs grouped by (size, speed on each model). A job's key is remembered while its
        throughputs (the same mapping object) and size stay: rounds ask about the same jobs again."""
        classes: dict[tuple[float, ...], list[ShareJob]] = {}
        memo, wanted = self._keys, tuple(models)
        for job in jobs:
            known = memo.get(job.job_id)
            if known is None or known[0] is not job.throughputs or known[1] != job.accelerators or known[2] != wanted:
                known = memo[job.job_id] = (job.throughputs, job.accelerators, wanted, self._class_key(job, models))
            classes.setdefault(known[3], []).append(job)
        return classes


class FairThroughput:
    """Suanli's own policy for average JCT: each round, the assignment of jobs to models with the
    most throughput, each job's normalized throughput weighted by how far behind it is.

    Each round it picks the jobs and models (each job on one model, each model up to its
    capacity) that maximize ``sum over running jobs of value(j, m)`` with

        value(j, m) = rho(j) ** urgency_power * speed(j, m) / speed(j, fastest model for j)

    ``rho(j)`` is the job's finish-time fairness so far: with the oracle (``oracle=True``, as SRTF
    reads run times), ``(seconds since it arrived + its remaining time on its fastest model) /
    its whole run time on that model`` -- the JCT / ideal ratio it would end with if it ran from
    now on at full speed; without it, ``(seconds since it arrived + r) / (seconds of
    fastest-model work it has done + r)`` from its attained service, ``r`` one round. (The
    simulator gives remaining work only to a profile with ``estimates: oracle``.)

    - Throughput with comparative advantage: the *sum* of normalized throughputs is maximized
      (a transportation problem, solved exactly when every job holds one accelerator, greedily
      by value per accelerator otherwise), so of two jobs the one that gains most from a
      V100 gets it and the other runs on the K80 it loses least on; the fleet does more work per
      hour than if each job took its fastest free model in turn, and queues drain sooner.
      Average JCT at high load is dominated by long jobs, and they gain the most from this.
    - Who runs when jobs outnumber accelerators: the jobs furthest behind (largest ``rho``), as
      in finish-time fairness (Themis), so every job's slowdown stays close to the others'.
      Deliberately *not* shortest-first: weighing value by 1 / remaining time (Smith's rule)
      gave the fast models to short jobs that barely needed them and left long jobs crawling on
      K80s; on Gavel's workload (5.6 jobs/h, seed 0) that raised average JCT by 30% and doubled
      the longest one. ``urgency_power`` 0.5 was chosen there too: 0 (throughput alone) let a few
      jobs fall far behind (finish-time fairness 7), 1 and more gave up throughput.
    - Starvation: a job that waits, or crawls on a slow model, sees ``rho`` grow without bound
      (linearly in the time it spends behind), and its value with it, while a newcomer's value is
      at most 1 (``rho`` 1, its fastest model); so it soon outranks every newcomer and any job
      less far behind. Unlike shortest-first, no job can be passed over indefinitely while the
      fleet keeps up; when it cannot, all jobs fall behind alike rather than the long ones alone.
      (A hard guard -- serve first every job past some ``rho`` -- changed nothing at 3 and did
      worse at 2 on Gavel's workload: the weight already does its job.)
    - A running job's value on its own model is raised by ``stickiness``, so near-ties do not
      move jobs back and forth (a preemption costs a checkpoint on a real fleet).
    """

    def __init__(self, oracle: bool = True, urgency_power: float = 0.5, stickiness: float = 0.05) -> None:
        self.oracle = oracle
        self.wants_remaining = oracle
        self.name = "fair-throughput" if oracle else "fair-throughput-attained"
        self.urgency_power = urgency_power
        self.stickiness = stickiness
        self.round_s = 360.0  # the attained-service rho's offset: one round

    def allocate(self, jobs: Sequence[ShareJob], capacity: Mapping[str, int]) -> Allocation:
        """Nothing to share out ahead: each round's assignment reads the jobs as they are then."""
        return {}

    def rho(self, job: ShareJob) -> float:
        """The job's finish-time fairness so far (at least 1): how far behind running alone it is."""
        speed = job.throughputs
        best = max((v for m, v in speed.items() if v > 0), default=0.0)
        if best <= 0:
            return 1.0
        if self.oracle and job.remaining_s is not None and job.ideal_s > 0:
            remaining = job.remaining_s
            fastest = min((t for m, t in remaining.items() if speed.get(m, 0.0) > 0), default=0.0)
            rho = (job.active_s + fastest) / job.ideal_s
        else:  # from attained service (also when the oracle was asked for but not given)
            done = sum(seconds * speed.get(m, 0.0) / best for m, seconds in job.received.items())
            rho = (job.active_s + self.round_s) / (done + self.round_s)
        return max(rho, 1.0)

    def values(self, job: ShareJob, models: Sequence[str]) -> list[float]:
        """What a round of ``job`` on each of ``models`` is worth (0: it cannot run there)."""
        speed = job.throughputs
        best = max(speed.values(), default=0.0)  # its fastest model, in the fleet or not
        if best <= 0:
            return [0.0] * len(models)
        rho = self.rho(job)
        weight = rho**self.urgency_power
        out = []
        for model in models:
            worth = weight * max(0.0, speed.get(model, 0.0)) / best
            if model == job.running_on:
                worth *= 1.0 + self.stickiness
            out.append(worth)
        return out

    def assign(
        self, jobs: Sequence[ShareJob], allocation: Allocation, capacity: Mapping[str, int]
    ) -> list[tuple[int, str]]:
        """The (job, model) pairs of the most valuable assignment, most valuable first."""
        models = [m for m, n in capacity.items() if n > 0]
        if not jobs or not models:
            return []
        values = np.array([self.values(job, models) for job in jobs])
        if all(job.accelerators == 1 for job in jobs):
            pairs = _best_assignment(values, [capacity[m] for m in models])
        else:  # jobs of several sizes: greedily, by value per accelerator
            pairs = _greedy_assignment(values, [job.accelerators for job in jobs], [capacity[m] for m in models])
        pairs.sort(key=lambda p: -values[p[0], p[1]])
        return [(jobs[j].job_id, models[m]) for j, m in pairs]


def _best_assignment(values: np.ndarray, capacity: list[int]) -> list[tuple[int, int]]:
    """Jobs (rows, one accelerator each) to models (columns, ``capacity`` of each) maximizing the
    sum of values; a job with no positive value stays out. Exact (the Hungarian method over one
    column per accelerator), on the jobs that can matter: a job outside every model's top
    ``sum(capacity)`` is never needed (a better one would be idle)."""
    total = sum(capacity)
    candidates = np.arange(len(values))
    if len(values) > total:
        top = np.argpartition(-values, total - 1, axis=0)[:total]
        candidates = np.unique(top)
    columns = np.repeat(np.arange(len(capacity)), capacity)
    rows, cols = linear_sum_assignment(values[candidates][:, columns], maximize=True)
    return [
        (int(candidates[r]), int(columns[c]))
        for r, c in zip(rows, cols, strict=True)
        if values[candidates[r], columns[c]] > 0
    ]


def _greedy_assignment(values: np.ndarray, sizes: list[int], capacity: list[int]) -> list[tuple[int, int]]:
    """Jobs of ``sizes`` accelerators to models, the most valuable pairs per accelerator first."""
    free = list(capacity)
    order = sorted(
        ((values[j, m] / sizes[j], j, m) for j in range(len(values)) for m in range(len(capacity)) if values[j, m] > 0),
        reverse=True,
    )
    taken: set[int] = set()
    pairs = []
    for _, j, m in order:
        if j not in taken and free[m] >= sizes[j]:
            free[m] -= sizes[j]
            taken.add(j)
            pairs.append((j, m))
    return pairs


def _share_columns(gain: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sparse columns of the share variables X[c][m] (row-major): each appears in its class's
    fairness row (c, coefficient -gain), its class's time row (n_c + c, 1) and its model's
    capacity row (2 n_c + m, the class's accelerators in all). Row indices and values, n x 3."""
    n_c, n_m = gain.shape
    c = np.repeat(np.arange(n_c), n_m)
    m = np.tile(np.arange(n_m), n_c)
    rows = np.stack([c, n_c + c, 2 * n_c + m], axis=1)
    values = np.stack([-gain.ravel(), np.ones(n_c * n_m), np.repeat(weight, n_m)], axis=1)
    return rows, values


def _closest_to_proportional(
    lp: _LinearProgram,
    gain: np.ndarray,
    count: np.ndarray,
    size: np.ndarray,
    cap: np.ndarray,
    best: float,
    proportional: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """Among the shares that keep the least normalized throughput at its optimum ``best``, the
    one closest (L1, weighted by class size) to an equal share of every model. An LP has many
    optimal shares when capacity is ample; this picks the even one a fair scheduler would,
    rather than an arbitrary corner (which the simplex method returns).

    Written in the deviations from the proportional share, X = P + U - V with U, V >= 0 (their
    bounds keep 0 <= X <= upper), so the LP has the first one's rows and no more."""
    n_c, n_m = gain.shape
    target = proportional.reshape(n_c, n_m)
    floor = best * (1 - 1e-6)
    reached = (gain * target).sum(axis=1)
    if np.all(proportional <= upper) and np.all(reached >= floor):
        return target.copy()  # the proportional share is optimal: nothing to move
    rows_x, values_x = _share_columns(gain, count * size)
    n = n_c * n_m
    rows = np.concatenate([rows_x.ravel(), rows_x.ravel()])
    values = np.concatenate([values_x.ravel(), -values_x.ravel()])
    starts = np.arange(0, 6 * n + 1, 3)
    used = (count * size) @ target
    row_upper = np.concatenate([reached - floor, 1.0 - target.sum(axis=1), cap - used])
    cost = np.repeat(count, n_m)
    lower = np.concatenate([np.zeros(n), np.maximum(0.0, proportional - upper)])
    top = np.concatenate([np.maximum(0.0, upper - proportional), proportional])
    solved = lp.solve(_Lp(np.concatenate([cost, cost]), starts, rows, values, row_upper, lower, top))
    if solved is None:
        raise RuntimeError("the max-min fairness LP (second stage) failed")
    return np.asarray(np.clip(target + (solved[:n] - solved[n:]).reshape(n_c, n_m), 0.0, None))


@dataclass(frozen=True, slots=True)
class _Lp:
    """Minimize ``cost @ x`` subject to ``A x <= row_upper`` and ``col_lower <= x <= col_upper``,
    A given column-wise (CSC: ``starts``, ``rows``, ``values``)."""

    cost: np.ndarray
    starts: np.ndarray
    rows: np.ndarray
    values: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray

    def same_shape(self, other: _Lp) -> bool:
        """Whether ``other`` has the same variables, rows and nonzero pattern (only numbers differ)."""
        return (
            len(self.cost) == len(other.cost)
            and len(self.row_upper) == len(other.row_upper)
            and np.array_equal(self.starts, other.starts)
            and np.array_equal(self.rows, other.rows)
        )


class _LinearProgram:
    """Solves successive :class:`_Lp` of one policy with HiGHS.

    They differ in a few numbers (a class gained or lost a job), so one HiGHS model is kept and
    only what changed is changed in it: HiGHS then starts from the last optimal basis and needs a
    few simplex iterations. HiGHS is called directly: scipy's ``linprog`` wrapper costs more than
    solving these small LPs."""

    def __init__(self) -> None:
        self._solver: Any = None
        self._last: _Lp | None = None

    def solve(self, lp: _Lp) -> np.ndarray | None:
        """The optimal x, or None if HiGHS finds none."""
        last = self._last
        warm = self._solver is not None and last is not None and last.same_shape(lp)
        if not warm or last is None:
            self._solver = _new_highs(lp)
        else:
            _change(self._solver, last, lp)
        self._last = lp
        self._solver.run()
        if self._solver.getModelStatus() != highspy.HighsModelStatus.kOptimal and warm:
            # Not from the kept basis: once more from scratch before giving up.
            self._solver = _new_highs(lp)
            self._solver.run()
        if self._solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            self._solver = None  # start afresh next time
            return None
        return np.asarray(self._solver.getSolution().col_value)


def _change(solver: Any, old: _Lp, new: _Lp) -> None:
    """Makes the HiGHS model of ``old`` that of ``new`` (same shape), number by number."""
    changed = np.flatnonzero(old.values != new.values)
    if len(changed):
        columns = np.searchsorted(new.starts, changed, side="right") - 1
        for k, col in zip(changed.tolist(), columns.tolist(), strict=True):
            solver.changeCoeff(int(new.rows[k]), col, float(new.values[k]))
    changed = np.flatnonzero(old.cost != new.cost)
    if len(changed):
        solver.changeColsCost(len(changed), changed.astype(np.int32), new.cost[changed])
    changed = np.flatnonzero((old.col_lower != new.col_lower) | (old.col_upper != new.col_upper))
    if len(changed):
        solver.changeColsBounds(len(changed), changed.astype(np.int32), new.col_lower[changed], new.col_upper[changed])
    for row in np.flatnonzero(old.row_upper != new.row_upper).tolist():
        solver.changeRowBounds(row, -highspy.kHighsInf, float(new.row_upper[row]))


def _new_highs(lp: _Lp) -> Any:
    n_rows, n_cols = len(lp.row_upper), len(lp.cost)
    model = highspy.HighsLp()
    model.num_col_ = n_cols
    model.num_row_ = n_rows
    model.col_cost_ = lp.cost
    model.col_lower_ = lp.col_lower
    model.col_upper_ = lp.col_upper
    model.row_lower_ = np.full(n_rows, -highspy.kHighsInf)
    model.row_upper_ = lp.row_upper
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.num_col_ = n_cols
    model.a_matrix_.num_row_ = n_rows
    model.a_matrix_.start_ = lp.starts.astype(np.int32)
    model.a_matrix_.index_ = lp.rows.astype(np.int32)
    model.a_matrix_.value_ = lp.values.astype(float)
    # The core class: ``highspy.Highs`` adds callbacks we do not use and prints a banner on
    # stdout, which would corrupt ``--output json``.
    solver = _Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("presolve", "off")  # tiny LPs, and a kept basis is worth more
    solver.passModel(model)
    return solver
