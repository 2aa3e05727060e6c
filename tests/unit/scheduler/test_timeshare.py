"""Time sharing: max-min fairness (the LP's shares, each round's choice of who runs where) and
Suanli's fair-throughput policy."""

from __future__ import annotations

import random

import pytest

from suanli.scheduler.timeshare import FairThroughput, MaxMinFairness, ShareJob, time_share_policy


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


def test_successive_lps_solved_from_the_last_basis_match_fresh_solves() -> None:
    # One policy keeps its HiGHS models between calls and changes only what differs; the shares
    # must be those of a fresh policy solving each LP from scratch.
    rng = random.Random(7)
    kinds = [
        {"fast": rng.uniform(1.0, 5.0), "mid": rng.uniform(0.5, 2.0), "slow": rng.uniform(0.1, 1.0)} for _ in range(6)
    ]
    capacity = {"fast": 4, "mid": 4, "slow": 8}
    kept = MaxMinFairness(aware=True)
    jobs: list[ShareJob] = []
    next_id = 0
    for _ in range(40):
        if jobs and rng.random() < 0.4:
            jobs.pop(rng.randrange(len(jobs)))
        else:
            jobs.append(ShareJob(next_id, 1, rng.choice(kinds), {}, 10.0))
            next_id += 1
        if not jobs:
            continue
        warm = kept.allocate(jobs, capacity)
        cold = MaxMinFairness(aware=True).allocate(jobs, capacity)
        assert warm.keys() == cold.keys()
        for job_id, shares in cold.items():
            assert warm[job_id] == pytest.approx(shares, abs=1e-6)


def fair(job_id: int, speeds: dict[str, float], ideal_s: float, left_s: float, active_s: float) -> ShareJob:
    """A job whose remaining time on each model is its remaining fastest-model seconds scaled by speed."""
    best = max(speeds.values())
    remaining = {m: left_s * best / v for m, v in speeds.items() if v > 0}
    done = ideal_s - left_s
    return ShareJob(job_id, 1, speeds, {"fast": done}, active_s, remaining, ideal_s)


@pytest.mark.parametrize("oracle", [True, False])
def test_the_job_that_gains_most_from_the_fast_model_gets_it(oracle: bool) -> None:
    # Jobs alike but for their speedups: 4x on "fast" for job 2, 1.2x for job 1, which is a
    # little further behind (it waited a round). Taking the most valuable pair first would give
    # "fast" to job 1; the best assignment gives it to job 2, which loses far more on "slow".
    policy = FairThroughput(oracle=oracle)
    jobs = [
        fair(1, {"fast": 1.2, "slow": 1.0}, ideal_s=3600.0, left_s=3600.0, active_s=360.0),
        fair(2, {"fast": 4.0, "slow": 1.0}, ideal_s=3600.0, left_s=3600.0, active_s=0.0),
    ]
    assert sorted(policy.assign(jobs, policy.allocate(jobs, {}), {"fast": 1, "slow": 1})) == [
        (1, "slow"),
        (2, "fast"),
    ]


@pytest.mark.parametrize("oracle", [True, False])
def test_a_long_job_is_not_starved_by_a_stream_of_short_ones(oracle: bool) -> None:
    # One accelerator; a job of 10 rounds arrives with a job of one round, and another one-round
    # job arrives every round for 100 rounds: the short jobs alone fill the accelerator.
    # Shortest-first runs each newcomer at once and the long job only after the stream ends;
    # here the long job's finish-time fairness grows while it waits until it outranks the
    # newcomers: it finishes while they still come, no further behind than they are.
    policy = FairThroughput(oracle=oracle)
    round_s, stream = 360.0, 100
    speeds = {"fast": 1.0}
    left = {0: 10 * round_s}
    ideal = {0: 10 * round_s}
    arrived = {0: 0.0}
    ftf: dict[int, float] = {}
    finished_at: dict[int, int] = {}
    for step in range(200):
        now = step * round_s
        if step < stream:
            left[step + 1], ideal[step + 1], arrived[step + 1] = round_s, round_s, now
        if not left:
            break
        jobs = [fair(j, speeds, ideal[j], left[j], now - arrived[j]) for j in left]
        chosen = policy.assign(jobs, policy.allocate(jobs, {"fast": 1}), {"fast": 1})
        assert len(chosen) == 1
        job_id = chosen[0][0]
        left[job_id] -= round_s
        if left[job_id] <= 0:
            del left[job_id]
            finished_at[job_id] = step
            ftf[job_id] = (now + round_s - arrived[job_id]) / ideal[job_id]
    assert len(ftf) == stream + 1
    assert finished_at[0] < stream  # shortest-first: stream + 9
    assert ftf[0] <= max(f for j, f in ftf.items() if j != 0)


def test_a_job_far_behind_outranks_newcomers() -> None:
    # Three times its run time alone in (rho 3), a job runs before fresh jobs (rho 1); a job
    # just behind (rho 1.1) on a model where it runs at half speed does not.
    policy = FairThroughput()
    late = fair(1, {"fast": 1.0}, ideal_s=3600.0, left_s=3600.0, active_s=7200.0)
    fresh = [fair(i, {"fast": 1.0}, ideal_s=360.0, left_s=360.0, active_s=0.0) for i in (2, 3)]
    assert policy.assign([*fresh, late], {}, {"fast": 1}) == [(1, "fast")]
    slow = fair(4, {"fast": 2.0, "slow": 1.0}, ideal_s=3600.0, left_s=3600.0, active_s=360.0)
    fresh_slow = fair(5, {"fast": 1.0, "slow": 1.0}, ideal_s=360.0, left_s=360.0, active_s=0.0)
    assert policy.assign([slow, fresh_slow], {}, {"slow": 1}) == [(5, "slow")]


def test_time_share_policies_by_name() -> None:
    assert isinstance(time_share_policy("max-min-fairness"), MaxMinFairness)
    assert time_share_policy("fair-throughput").wants_remaining
    assert not time_share_policy("fair-throughput-attained").wants_remaining
    with pytest.raises(ValueError):
        time_share_policy("nope")


def test_the_kept_highs_model_reaches_the_optimum_linprog_finds_from_scratch() -> None:
    # An independent check of the class-based LP on kept HiGHS models: the same max-min problem,
    # one variable per job, solved by scipy's linprog. Normalization as Gavel's: each job's
    # throughput over what an equal share of every model would give it.
    from scipy.optimize import linprog

    capacity = {"fast": 2, "slow": 1}
    policy = MaxMinFairness(aware=True)
    for jobs in (
        [job(1, fast=4.0, slow=1.0), job(2, fast=1.25, slow=1.0), job(3, fast=2.0, slow=0.5), job(4, 3.0, 0.0)],
        [job(1, fast=4.0, slow=1.0), job(2, fast=1.25, slow=1.0), job(5, fast=1.5, slow=1.5)],  # changed set
    ):
        shares = policy.allocate(jobs, capacity)
        models, total = list(capacity), sum(capacity.values())
        even = min(1.0, total / len(jobs))
        equal = [sum(j.throughputs[m] * capacity[m] / total for m in models) * even for j in jobs]
        ours = min(
            sum(j.throughputs[m] * x for m, x in shares[j.job_id].items()) / e for j, e in zip(jobs, equal, strict=True)
        )
        n, k = len(jobs), len(models)
        cost = [0.0] * (n * k) + [-1.0]
        rows, upper = [], []
        for i, j in enumerate(jobs):
            row = [0.0] * (n * k + 1)
            for c, m in enumerate(models):
                row[i * k + c] = -j.throughputs[m] / equal[i]
            row[-1] = 1.0
            rows.append(row)
            upper.append(0.0)
            rows.append([1.0 if i * k <= c < (i + 1) * k else 0.0 for c in range(n * k)] + [0.0])
            upper.append(1.0)
        for c, m in enumerate(models):
            rows.append([1.0 if col % k == c else 0.0 for col in range(n * k)] + [0.0])
            upper.append(float(capacity[m]))
        best = linprog(cost, A_ub=rows, b_ub=upper, bounds=[(0, 1)] * (n * k) + [(0, None)], method="highs")
        # The even-share second stage may give up 1e-6 of the optimum, by design.
        assert best.success and ours == pytest.approx(-best.fun, rel=1e-5)
