"""Time-sharing policies: which jobs run on which accelerator model for the next round.

Gavel-style max-min fairness (Narayanan et al., OSDI'20): a linear program gives each active job
a share ``X[j][m]`` of each model's time that maximizes the smallest normalized throughput; each
round the jobs furthest behind their share run first. The heterogeneity-aware variant weighs
each model by the job's measured throughput on it; the agnostic one counts every model as equal
(time is time), as schedulers that ignore heterogeneity do.

The LP is solved per class of identical jobs (same throughputs and size): for max-min fairness a
symmetric optimum exists, so identical jobs get identical shares, and the LP stays small however
many jobs wait. HiGHS (through scipy) solves it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog  # type: ignore[import-untyped]


@dataclass(frozen=True, slots=True)
class ShareJob:
    job_id: int
    accelerators: int  # it holds this many of one model when it runs
    throughputs: Mapping[str, float]  # per model, steps/s (or relative speed); 0: cannot run there
    received: Mapping[str, float]  # seconds it has run on each model
    active_s: float  # seconds since it arrived


Allocation = dict[int, dict[str, float]]  # job -> model -> share of time


class MaxMinFairness:
    def __init__(self, aware: bool = True) -> None:
        self.aware = aware
        self.name = "max-min-fairness" if aware else "max-min-fairness-agnostic"

    def allocate(self, jobs: Sequence[ShareJob], capacity: Mapping[str, int]) -> Allocation:
        """Each job's share of each model's time, maximizing the least normalized throughput."""
        models = [m for m, n in capacity.items() if n > 0]
        if not jobs or not models:
            return {}
        classes: dict[tuple[object, ...], list[ShareJob]] = {}
        for job in jobs:
            classes.setdefault(self._class_key(job, models), []).append(job)
        keys = list(classes)
        speed = np.array([[self._speed(classes[k][0], m) for m in models] for k in keys])  # class x model
        size = np.array([float(classes[k][0].accelerators) for k in keys])
        count = np.array([float(len(classes[k])) for k in keys])
        total = float(sum(capacity[m] for m in models))
        # Normalize by what the job would get from an equal share of every model (Gavel's
        # proportional allocation), so a job that is slow everywhere is not favoured or starved.
        share = min(1.0, total / max(1.0, float((count * size).sum())))
        equal = speed @ np.array([capacity[m] / total for m in models]) * share
        equal[equal <= 0] = 1.0
        n_c, n_m = len(keys), len(models)
        # Variables: X[c][m] (row-major), then t. Maximize t.
        cost = np.zeros(n_c * n_m + 1)
        cost[-1] = -1.0
        rows, bounds_up = [], []
        for c in range(n_c):  # t - sum_m speed[c][m] X[c][m] / equal[c] <= 0
            row = np.zeros(n_c * n_m + 1)
            row[c * n_m : (c + 1) * n_m] = -speed[c] / equal[c]
            row[-1] = 1.0
            rows.append(row)
            bounds_up.append(0.0)
        for c in range(n_c):  # sum_m X[c][m] <= 1
            row = np.zeros(n_c * n_m + 1)
            row[c * n_m : (c + 1) * n_m] = 1.0
            rows.append(row)
            bounds_up.append(1.0)
        for m in range(n_m):  # sum_c count[c] size[c] X[c][m] <= capacity[m]
            row = np.zeros(n_c * n_m + 1)
            row[m : n_c * n_m : n_m] = count * size
            rows.append(row)
            bounds_up.append(float(capacity[models[m]]))
        # A job cannot use a model it has no speed on (the aware LP would not anyway).
        var_bounds = [(0.0, 0.0 if speed[c][m] <= 0 else 1.0) for c in range(n_c) for m in range(n_m)]
        solved = linprog(cost, A_ub=np.array(rows), b_ub=np.array(bounds_up), bounds=[*var_bounds, (0, None)])
        if not solved.success:
            raise RuntimeError(f"the max-min fairness LP failed: {solved.message}")
        proportional = np.array([capacity[m] / total for m in models]) * share
        x = self._closest_to_proportional(
            np.array(rows)[:, :-1], np.array(bounds_up), solved.x[-1], proportional, count, var_bounds
        )
        return {
            job.job_id: {models[m]: float(x[c][m]) for m in range(n_m) if x[c][m] > 1e-9}
            for c, key in enumerate(keys)
            for job in classes[key]
        }

    @staticmethod
    def _closest_to_proportional(
        a: np.ndarray,
        b: np.ndarray,
        best: float,
        proportional: np.ndarray,
        count: np.ndarray,
        bounds: list[tuple[float, float]],
    ) -> np.ndarray:
        """Among the shares that keep the least normalized throughput at its optimum ``best``, the
        one closest (L1, weighted by class size) to an equal share of every model. An LP has many
        optimal shares when capacity is ample; this picks the even one a fair scheduler would,
        rather than an arbitrary corner (which the simplex method returns)."""
        n_c, n_m = len(count), len(proportional)
        n = n_c * n_m
        fair = a[:n_c] * 1.0  # rows: -speed X / equal (+ t, dropped) <= 0  ->  <= -best
        rhs_fair = np.full(n_c, -best * (1 - 1e-6))
        rest, rhs_rest = a[n_c:], b[n_c:]
        eye = np.eye(n)
        target = np.tile(proportional, n_c)
        a_ub = np.vstack(
            [
                np.hstack([fair, np.zeros((n_c, n))]),
                np.hstack([rest, np.zeros((rest.shape[0], n))]),
                np.hstack([eye, -eye]),  # X - D <= P
                np.hstack([-eye, -eye]),  # -X - D <= -P
            ]
        )
        b_ub = np.concatenate([rhs_fair, rhs_rest, target, -target])
        cost = np.concatenate([np.zeros(n), np.repeat(count, n_m)])
        solved = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=[*bounds, *[(0, None)] * n])
        if not solved.success:  # the first optimum is a fine answer too
            raise RuntimeError(f"the max-min fairness LP (second stage) failed: {solved.message}")
        return np.asarray(solved.x[:n]).reshape(n_c, n_m)

    def assign(
        self, jobs: Sequence[ShareJob], allocation: Allocation, capacity: Mapping[str, int]
    ) -> list[tuple[int, str]]:
        """Who runs on which model this round: the (job, model) pairs furthest behind their share
        (share over time received there) first, each job on one model, while the model has room."""
        pairs: list[tuple[float, float, int, str]] = []
        for job in jobs:
            total = sum(job.received.values())
            for model, wanted in allocation.get(job.job_id, {}).items():
                got = job.received.get(model, 0.0) / job.active_s if job.active_s > 0 else 0.0
                priority = math.inf if got <= 0 else wanted / got
                pairs.append((priority, total, job.job_id, model))
        # Ties (jobs that never ran on a model have infinite priority on it) go to the job that
        # has run least in all.
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        free = dict(capacity)
        size = {job.job_id: job.accelerators for job in jobs}
        chosen: list[tuple[int, str]] = []
        placed: set[int] = set()
        for _, _, job_id, model in pairs:
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

    def _class_key(self, job: ShareJob, models: Sequence[str]) -> tuple[object, ...]:
        return (job.accelerators, *(round(self._speed(job, m), 9) for m in models))
