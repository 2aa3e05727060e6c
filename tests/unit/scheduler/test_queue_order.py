from suanli.scheduler.plugins.queue_order import FifoOrder, PriorityOrder
from tests.builders import make_job


def test_fifo_orders_by_submission() -> None:
    queue = [make_job(3).build(), make_job(1).priority(9).build(), make_job(2).build()]
    assert [r.job_id for r in FifoOrder().order(queue)] == [1, 2, 3]


def test_priority_then_fifo_within_a_priority() -> None:
    queue = [
        make_job(1).build(),
        make_job(2).priority(5).build(),
        make_job(3).priority(-1).build(),
        make_job(4).priority(5).build(),
    ]
    assert [r.job_id for r in PriorityOrder().order(queue)] == [2, 4, 1, 3]
