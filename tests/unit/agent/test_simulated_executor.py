"""The simulated backend of `suanli up --demo`: durations from the spec, capacity held node by
node, cancel and forget, and a redelivered assignment started once."""

from __future__ import annotations

import pytest

from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, ExecutorRefused
from suanli.agent.simulated import SimulatedExecutor, simulated_duration
from tests.builders import make_pool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def spec(job: int, per_node: int = 8, nodes: int = 1, time_limit_s: float | None = 7200.0) -> AttemptSpec:
    return AttemptSpec(
        key=AttemptKey(job, 1),
        name=f"job-{job}",
        command=("python", "train.py", "--lr", "0.1"),
        pool="a100",
        accelerator="A100-80G",
        accelerators_per_node=per_node,
        nodes=nodes,
        time_limit_s=time_limit_s,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def executor(clock: Clock) -> SimulatedExecutor:
    pool = make_pool(name="a100", accelerator="A100-80G", per_node=8, nodes=2)
    return SimulatedExecutor([pool], time_scale=300, clock=clock)


def test_the_duration_follows_the_time_limit_within_bounds() -> None:
    short, long = spec(1, time_limit_s=600), spec(1, time_limit_s=6 * 3600)
    assert simulated_duration(short, 300) < simulated_duration(long, 300)
    assert simulated_duration(spec(1, time_limit_s=10**6), 300) == 30.0
    assert simulated_duration(spec(1, time_limit_s=1), 300) == 2.0
    durations = {simulated_duration(spec(job), 300) for job in range(1, 50)}
    assert len(durations) > 10  # jobs of one size do not all end together
    assert all(0.6 * 3600 / 300 <= d <= 1.4 * 3600 / 300 for d in durations)


def test_an_attempt_runs_for_its_duration_then_succeeds_and_frees_its_nodes(
    executor: SimulatedExecutor, clock: Clock
) -> None:
    gang = spec(1, nodes=2)
    executor.start(gang)
    with pytest.raises(ExecutorRefused, match="needs 1 x 8 A100-80G, 0 node"):
        executor.start(spec(2))
    assert [s.state for s in executor.poll()] == [AttemptState.RUNNING]

    clock.now += simulated_duration(gang, 300)
    [status] = executor.poll()
    assert (status.state, status.exit_code) == (AttemptState.SUCCEEDED, 0)
    log = executor.read_logs(gang.key, 0).decode()
    assert "simulated" in log and "python train.py --lr 0.1" in log and "nodes 0, 1" in log
    assert "finished after" in log
    executor.start(spec(2))  # the nodes are free again
    executor.forget(gang.key)
    assert [s.key.job_id for s in executor.poll()] == [2]


def test_cancel_ends_it_at_once_and_a_redelivery_starts_nothing_new(executor: SimulatedExecutor, clock: Clock) -> None:
    job = spec(3, per_node=4)
    executor.start(job)
    executor.start(job)
    executor.start(spec(4, per_node=4))  # fits next to it on node 0: capacity is per slot
    executor.start(spec(5, per_node=8))  # node 1
    executor.cancel(job.key)
    states = {s.key.job_id: s.state for s in executor.poll()}
    assert states == {3: AttemptState.CANCELLED, 4: AttemptState.RUNNING, 5: AttemptState.RUNNING}
    assert "was cancelled" in executor.read_logs(job.key, 0).decode()
    executor.forget(AttemptKey(4, 1))  # a running attempt is not forgotten
    assert len(executor.poll()) == 3


def test_a_model_with_no_pool_is_refused(executor: SimulatedExecutor) -> None:
    other = AttemptSpec(
        key=AttemptKey(6, 1), name="x", command="true", accelerator="Ascend910B", accelerators_per_node=1
    )
    with pytest.raises(ExecutorRefused, match="no pool for Ascend910B"):
        executor.start(other)
