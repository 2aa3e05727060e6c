"""Max-min fairness time sharing: the LP's shares and each round's choice of who runs where."""

from __future__ import annotations

import pytest

from suanli.scheduler.timeshare import MaxMinFairness, ShareJob


def job(job_id: int, fast: float, slow: float, received: dict[str, float] | None = None) -> ShareJob:
    return ShareJob(job_id, 1, {"fast": fast, "slow": slow}, received or {}, active_s=3600.0)


def normalized(policy: MaxMinFairness, jobs: list[ShareJob], shares: dict[int, dict[str, float]]) -> list[float]:
    return [sum(policy._speed(j, m) * x for m, x in shares[j.job_id].items()) for j in jobs]


def test_the_aware_lp_maximizes_the_least_normalized_throughput() -> None:
    # Two models, three jobs with different speedups on "fast": no other split of the time
    # (an equal one, or the agnostic LP's) gives the worst-off job more, in the aware measure.
    jobs = [job(1, fast=4.0, slow=1.0), job(2, fast=1.25, slow=1.0), job(3, fast=2.0, slow=0.5)]
    capacity = {"fast": 1, "slow": 1}
    aware = MaxMinFairness(aware=True)
    shares = aware.allocate(jobs, capacity)
    for allocation in shares.values():
        assert sum(allocation.values()) <= 1 + 1e-9
    for model in capacity:
        assert sum(s.get(model, 0) for s in shares.values()) <= capacity[model] + 1e-9
    equal = {j.job_id: {"fast": 1 / 3, "slow": 1 / 3} for j in jobs}
    agnostic = MaxMinFairness(aware=False).allocate(jobs, capacity)
    best = min(normalized(aware, jobs, shares))
    assert best >= min(normalized(aware, jobs, equal)) - 1e-9
    assert best >= min(normalized(aware, jobs, agnostic)) - 1e-9


def test_the_agnostic_lp_counts_time_alone() -> None:
    jobs = [job(1, fast=4.0, slow=1.0), job(2, fast=1.25, slow=1.0), job(3, fast=2.0, slow=1.0)]
    shares = MaxMinFairness(aware=False).allocate(jobs, {"fast": 1, "slow": 1})
    # Three jobs, two accelerators: every job gets 2/3 of the time, whatever its speeds.
    assert [pytest.approx(sum(s.values()), abs=1e-6) for s in shares.values()] == [2 / 3] * 3


def test_a_round_runs_the_jobs_furthest_behind_their_share_one_model_each() -> None:
    policy = MaxMinFairness(aware=True)
    jobs = [
        job(1, 2.0, 1.0, received={"fast": 3000.0, "slow": 3000.0}),  # had much of its share already
        job(2, 2.0, 1.0, received={"fast": 100.0, "slow": 100.0}),
        job(3, 2.0, 1.0),  # never ran: first
    ]
    shares = {1: {"fast": 0.5, "slow": 0.5}, 2: {"fast": 0.5, "slow": 0.5}, 3: {"fast": 0.5, "slow": 0.5}}
    chosen = policy.assign(jobs, shares, {"fast": 1, "slow": 1})
    # 3 never ran (it comes first, on the first model it has a share of); 2 is further behind
    # than 1, and only "slow" is left.
    assert chosen == [(3, "fast"), (2, "slow")]


def test_a_model_a_job_cannot_use_gets_no_share() -> None:
    jobs = [ShareJob(1, 1, {"fast": 1.0, "slow": 0.0}, {}, 10.0)]
    for aware in (True, False):
        shares = MaxMinFairness(aware=aware).allocate(jobs, {"fast": 1, "slow": 4})
        assert "slow" not in shares[1]


def test_with_room_to_spare_the_even_optimum_is_chosen_not_a_corner() -> None:
    # Two jobs, three models with plenty of room: any split giving each job all its time is
    # optimal for the agnostic LP; the even one (time on every model in proportion to capacity)
    # is chosen, as a fair scheduler would.
    jobs = [ShareJob(i, 1, {"a": 1.0, "b": 1.0, "c": 1.0}, {}, 10.0) for i in (1, 2)]
    shares = MaxMinFairness(aware=False).allocate(jobs, {"a": 10, "b": 10, "c": 20})
    for allocation in shares.values():
        assert allocation == pytest.approx({"a": 0.25, "b": 0.25, "c": 0.5})
