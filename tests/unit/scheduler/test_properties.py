"""Invariants that hold for every fleet and queue: no pool over-committed, no job placed twice,
gangs on distinct nodes of a matching model, and backfill never delays the reservation."""

from collections import defaultdict
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.request import SchedulingRequest, simple_shape
from suanli.scheduler.snapshot import Snapshot
from tests.builders import make_center, make_pool

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
MODELS = ["A100-80G", "Ascend910B", "T4"]

pools = st.builds(
    lambda model, per_node, nodes, price: (model, per_node, nodes, price),
    st.sampled_from(MODELS),
    st.sampled_from([1, 2, 4, 8]),
    st.integers(0, 5),
    st.floats(0, 30),
)
fleets = st.lists(st.lists(pools, min_size=1, max_size=3), min_size=1, max_size=4)
jobs = st.lists(
    st.tuples(
        st.sampled_from(MODELS),
        st.sampled_from([1, 2, 4, 8]),
        st.integers(1, 3),
        st.one_of(st.none(), st.floats(60, 10 * 3600)),
        st.integers(-2, 2),
    ),
    max_size=60,
)


def build(fleet):  # type: ignore[no-untyped-def]
    return [
        make_center(f"c{c}", *[make_pool(f"p{p}", m, per, n, price) for p, (m, per, n, price) in enumerate(pools)])
        for c, pools in enumerate(fleet)
    ]


def requests(specs, first_id):  # type: ignore[no-untyped-def]
    return [
        SchedulingRequest(first_id + i, prio, simple_shape(model, count, nodes, time_limit=limit))
        for i, (model, count, nodes, limit, prio) in enumerate(specs)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleet=fleets, running=jobs, queued=jobs, profile=st.sampled_from(["default", "spread", "fifo", "green"]))
def test_cycles_never_overcommit_and_never_delay_the_reservation(fleet, running, queued, profile) -> None:  # type: ignore[no-untyped-def]
    centers = build(fleet)
    scheduler = Scheduler(profile)
    # A first cycle fills the fleet; its placements are the running work of the second.
    first = scheduler.run_cycle(Snapshot.build(centers, []), requests(running, 1), NOW - 600)
    shapes = {r.job_id: r.shape for r in requests(running, 1)}
    held = []
    for d in first.placed:
        c = d.choice
        limit = shapes[d.job_id].time_limit
        held.append((d.job_id, c.center, c.pool, c.node_indices, c.slots, NOW - 600 + limit if limit else None))
    snapshot = Snapshot.build(centers, held)
    pool_of = {p.index: p for p in snapshot.pools}
    queue = requests(queued, 1000)
    result = scheduler.run_cycle(snapshot, queue, NOW)

    assert sorted(d.job_id for d in result.decisions) == sorted(r.job_id for r in queue)
    by_id = {r.job_id: r.shape for r in queue}
    used: dict[tuple[int, int], int] = defaultdict(int)
    # (pool, nodes, slots, expected end, placed after the reserved job?)
    ends: list[tuple[int, tuple[int, ...], int, float | None, bool]] = []
    fresh = Snapshot.build(centers, [])
    for _, center, pool, nodes, slots, end in held:
        index = next(p.index for p in fresh.pools if (p.center, p.name) == (center, pool))
        for node in nodes:
            used[(index, node)] += slots
        ends.append((index, nodes, slots, end, False))
    reservation = result.reservation
    after_head = False
    for d in result.decisions:
        if reservation is not None and d.job_id == reservation.job_id:
            after_head = True
        if d.choice is None:
            continue
        c, shape = d.choice, by_id[d.job_id]
        assert (c.accelerator, c.slots) in shape.alternatives
        assert len(set(c.node_indices)) == len(c.node_indices) == shape.nodes
        for node in c.node_indices:
            used[(c.pool_index, node)] += c.slots
        end = NOW + shape.time_limit if shape.time_limit is not None else None
        ends.append((c.pool_index, c.node_indices, c.slots, end, after_head))
    for (index, node), slots in used.items():
        pool = pool_of[index]
        assert node < pool.nodes
        assert slots <= pool.per_node, f"{pool.label} node {node} over-committed"

    if reservation is not None:
        # The reservation assumed work placed before it ends at its expected end (unbounded work
        # only at an unbounded start); work backfilled after it must leave the reserved slots free.
        pool, start = reservation.pool, reservation.start
        busy = [0] * pool.nodes
        for index, nodes, slots, end, backfilled in ends:
            holds = (backfilled or start != float("inf")) if end is None else end > start
            if index == pool.index and holds:
                for node in nodes:
                    busy[node] += slots
        head = by_id[reservation.job_id]
        fitting = sum(1 for b in busy if pool.per_node - b >= reservation.slots)
        assert fitting >= head.nodes, "backfill delayed the reserved job"
