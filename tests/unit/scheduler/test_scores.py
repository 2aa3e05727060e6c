from datetime import UTC, datetime

from suanli.scheduler.cycle import Scheduler
from suanli.scheduler.registry import Profile
from suanli.scheduler.snapshot import Snapshot
from tests.builders import make_center, make_job, make_pool

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()


def place(centers, *jobs, scores):  # type: ignore[no-untyped-def]
    profile = Profile(name="t", scores=scores)
    result = Scheduler(profile).run_cycle(Snapshot.build(centers, []), [j.build() for j in jobs], NOW)
    return [d.choice for d in result.decisions]


def test_price_prefers_the_cheaper_center_and_says_so() -> None:
    cheap = make_center("cheap", make_pool(price=8))
    dear = make_center("dear", make_pool(price=16))
    (choice,) = place([dear, cheap], make_job(1).gpus("A100-80G:1"), scores={"price": 1.0})
    assert choice.center == "cheap"
    assert choice.scores == (("price", 1.0),)
    assert "next best dear/gpu scored 0.50" in choice.reason()


def test_packing_fills_a_started_pool_before_touching_an_empty_one() -> None:
    a = make_center("a", make_pool(nodes=1))
    b = make_center("b", make_pool(nodes=1))
    choices = place([a, b], *[make_job(i).gpus("A100-80G:1") for i in range(1, 5)], scores={"packing": 1.0})
    assert {c.center for c in choices} == {"a"}


def test_packing_best_fit_keeps_whole_nodes_free() -> None:
    a = make_center("a", make_pool(nodes=2))
    choices = place([a], *[make_job(i).gpus("A100-80G:1") for i in range(1, 9)], scores={"packing": 1.0})
    assert {c.node_indices for c in choices} == {(choices[0].node_indices[0],)}


def test_load_balance_spreads_over_centers() -> None:
    a = make_center("a", make_pool(nodes=1))
    b = make_center("b", make_pool(nodes=1))
    choices = place([a, b], *[make_job(i).gpus("A100-80G:1") for i in range(1, 5)], scores={"load-balance": 1.0})
    assert [c.center for c in choices] == ["a", "b", "a", "b"]


def test_carbon_prefers_the_greener_site() -> None:
    coal = make_center("coal", make_pool(carbon=800))
    hydro = make_center("hydro", make_pool(carbon=100))
    (choice,) = place([coal, hydro], make_job(1).gpus("A100-80G:1"), scores={"carbon": 1.0})
    assert choice.center == "hydro"


def test_weights_trade_price_against_packing() -> None:
    busy = make_center("busy", make_pool(nodes=1, price=12))
    idle = make_center("idle", make_pool(nodes=1, price=10))
    # Fill busy to 7/8 with a pinned job, then ask for one more GPU anywhere.
    pinned = make_job(1).gpus("A100-80G:7").constrain(centers=["busy"])
    by_price = place([busy, idle], pinned, make_job(2).gpus("A100-80G:1"), scores={"price": 1.0})
    by_packing = place([busy, idle], pinned, make_job(2).gpus("A100-80G:1"), scores={"price": 0.1, "packing": 1.0})
    assert by_price[1].center == "idle"
    assert by_packing[1].center == "busy"
