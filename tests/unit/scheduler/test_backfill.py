import math
from datetime import UTC, datetime

from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.snapshot import Snapshot
from tests.builders import make_center, make_job, make_pool

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
HOUR = 3600.0


def cycle(centers, allocations, *jobs, profile="default"):  # type: ignore[no-untyped-def]
    return Scheduler(profile).run_cycle(Snapshot.build(centers, allocations), [j.build() for j in jobs], NOW)


def test_short_job_backfills_but_long_ones_wait_for_the_reservation() -> None:
    center = make_center("qd", make_pool(nodes=1))
    running = [(100, "qd", "gpu", (0,), 6, NOW + HOUR)]
    result = cycle(
        [center],
        running,
        make_job(1).gpus("A100-80G:8"),
        make_job(2).gpus("A100-80G:1").time_limit(HOUR / 2),
        make_job(3).gpus("A100-80G:1").time_limit(2 * HOUR),
        make_job(4).gpus("A100-80G:1"),
    )
    head, short, long_, unbounded = result.decisions
    assert not head.placed
    assert head.reservation is not None and head.reservation.start == NOW + HOUR
    assert "job 1 holds a reservation on qd/gpu" in head.explain()[1]
    assert short.choice is not None and short.choice.backfilled
    assert "backfill" in short.choice.reason()
    for waiting in (long_, unbounded):
        assert not waiting.placed
        assert [r.plugin for r in waiting.rejections] == ["backfill"]
        assert "would delay job 1" in waiting.rejections[0].message


def test_long_jobs_may_use_slots_the_reservation_leaves_free() -> None:
    center = make_center("qd", make_pool(nodes=4))
    running = [
        (100, "qd", "gpu", (0,), 6, NOW + HOUR),
        (101, "qd", "gpu", (1,), 8, NOW + 2 * HOUR),
        (102, "qd", "gpu", (3,), 4, None),
    ]
    result = cycle(
        [center],
        running,
        make_job(1).gpus("A100-80G:8").nodes(2),  # needs nodes 0 and 2 at +1h
        make_job(2).gpus("A100-80G:2"),  # no time limit: only node 3's spare slots are safe
        make_job(3).gpus("A100-80G:4"),  # node 2 is free now but held for job 1
    )
    head, fits_extra, would_delay = result.decisions
    assert head.reservation is not None
    assert head.reservation.start == NOW + HOUR
    assert sorted(head.reservation.node_indices) == [0, 2]
    assert fits_extra.choice is not None and fits_extra.choice.node_indices == (3,)
    assert not would_delay.placed
    assert would_delay.rejections[0].plugin == "backfill"


def test_unknown_end_times_give_an_unbounded_reservation() -> None:
    center = make_center("qd", make_pool(nodes=1))
    result = cycle([center], [(100, "qd", "gpu", (0,), 4, None)], make_job(1).gpus("A100-80G:8"))
    reservation = result.decisions[0].reservation
    assert reservation is not None and math.isinf(reservation.start)
    assert "when work without a time limit ends" in reservation.describe()


def test_without_backfill_later_jobs_take_free_capacity() -> None:
    center = make_center("qd", make_pool(nodes=1))
    result = cycle(
        [center],
        [(100, "qd", "gpu", (0,), 6, NOW + HOUR)],
        make_job(1).gpus("A100-80G:8"),
        make_job(2).gpus("A100-80G:2"),
        profile="fifo",
    )
    assert result.reservation is None
    assert [d.placed for d in result.decisions] == [False, True]
