"""/api/v1/centers/{name}/rates through the real API on SQLite and PostgreSQL: publishing prices
from now or a later date, the first rates a center's pools get, the price hint the scheduler
sees following the rate in force, and bad input refused with nothing written. Time is a
ManualClock the tests move."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from suanli.adapters.storage.tables import rates as rates_table
from suanli.composition import Container, build_container
from suanli.domain.identity import Role
from suanli.settings import Settings
from tests.clocks import ManualClock
from tests.integration.api.conftest import API, center, fields, pool, problem
from tests.integration.api.test_operator_view import person
from tests.signed_in import signed_in

DAY = 86400.0
TOMORROW = "2026-11-29T12:00:00+00:00"  # a day after the clock's start (tests/clocks.py)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def clocked(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    container = build_container(settings, clock=clock)
    yield container
    container.close()


@pytest.fixture
def api(clocked: Container) -> TestClient:
    return signed_in(clocked)


@pytest.fixture
def qd(api: TestClient, clock: ManualClock) -> str:
    """A center with a GPU pool (10 CNY per accelerator-hour) and a CPU pool (0.2 per core-hour),
    registered a minute ago."""
    cpu = {**pool("cpu", "CPU", 64, 4, price=0.2), "cpus_per_node": 64}
    created = api.post(f"{API}/centers", json=center("qd", pool("gpu", price=10.0), cpu))
    assert created.status_code == 201, created.text
    clock.advance(60)
    return "qd"


def publish(api: TestClient, body: Any, name: str = "qd") -> Any:
    """POST a body as JSON text (a str is sent as written: numbers in it reach the server as typed)."""
    text = body if isinstance(body, str) else None
    if text is None:
        return api.post(f"{API}/centers/{name}/rates", json=body)
    return api.post(f"{API}/centers/{name}/rates", content=text, headers={"content-type": "application/json"})


def rates(api: TestClient, name: str = "qd", **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"{API}/centers/{name}/rates", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["rates"])


def hints(api: TestClient, name: str = "qd") -> dict[str, float]:
    return {p["name"]: p["price_per_accelerator_hour"] for p in api.get(f"{API}/centers/{name}").json()["pools"]}


def in_force(api: TestClient, **params: Any) -> dict[str, str]:
    """The accelerator-hour price in force per pool the center has."""
    listed = rates(api, **params)
    return {r["pool"]: r["per_accelerator_hour"] for r in listed if r["standing"] == "in_force" and r["accelerator"]}


def test_a_new_center_s_pools_start_from_their_declared_prices(api: TestClient, qd: str) -> None:
    listed = rates(api)
    assert [(r["pool"], r["accelerator"], r["per_accelerator_hour"], r["per_cpu_hour"]) for r in listed] == [
        ("cpu", "CPU", "0.2000", "0.0000"),
        ("gpu", "A100-80G", "10.0000", "0.0000"),
    ]
    assert {(r["origin"], r["standing"], r["currency"], r["effective_from"]) for r in listed} == {
        ("pool", "in_force", "CNY", "2026-11-28T12:00:00Z")
    }


def test_a_price_from_now_is_charged_and_placed_by_at_once(api: TestClient, qd: str) -> None:
    published = publish(api, '{"pool": "gpu", "per_accelerator_hour": 0.1, "per_cpu_hour": "0.0125"}')
    assert published.status_code == 201, published.text
    body = published.json()
    # Exact: the JSON number 0.1 is 0.1, not the float nearest it.
    assert (body["per_accelerator_hour"], body["per_cpu_hour"], body["per_gb_hour"]) == ("0.1000", "0.0125", "0.0000")
    assert (body["standing"], body["origin"], body["published_by"], body["replaced"]) == (
        "in_force",
        "published",
        "admin",
        None,
    )
    assert body["effective_from"] == "2026-11-28T12:01:00Z"
    assert hints(api) == {"gpu": 0.1, "cpu": 0.2}  # the scheduler's hint follows the price charged
    assert in_force(api) == {"gpu": "0.1000", "cpu": "0.2000"}
    # An earlier time still sees the price then.
    assert in_force(api, at="2026-11-28T12:00:30+00:00") == {"gpu": "10.0000", "cpu": "0.2000"}


def test_a_future_price_takes_effect_on_its_date_and_not_before(
    api: TestClient, clocked: Container, clock: ManualClock, qd: str
) -> None:
    published = publish(api, {"pool": "gpu", "per_accelerator_hour": "12.5", "effective_from": TOMORROW})
    assert published.status_code == 201, published.text
    assert published.json()["standing"] == "scheduled"
    assert hints(api)["gpu"] == 10.0 and in_force(api)["gpu"] == "10.0000"
    assert [r["standing"] for r in rates(api) if r["pool"] == "gpu"] == ["in_force", "scheduled"]

    clock.advance(DAY)
    clocked.loop.run_once()  # the housekeeping before the cycle applies what came due
    assert hints(api)["gpu"] == 12.5 and in_force(api)["gpu"] == "12.5000"
    assert [r["standing"] for r in rates(api) if r["pool"] == "gpu"] == ["superseded", "in_force"]


def test_a_future_price_may_be_corrected_or_withdrawn_one_in_force_never(
    api: TestClient, clock: ManualClock, qd: str
) -> None:
    publish(api, {"pool": "gpu", "per_accelerator_hour": "12.5", "per_gb_hour": "0.01", "effective_from": TOMORROW})
    corrected = publish(api, {"pool": "gpu", "per_accelerator_hour": 11, "effective_from": TOMORROW})
    assert corrected.status_code == 201, corrected.text
    body = corrected.json()
    assert (body["per_accelerator_hour"], body["per_gb_hour"]) == ("11.0000", "0.0100")  # the rest carries over
    assert body["replaced"]["per_accelerator_hour"] == "12.5000" and body["replaced"]["standing"] == "withdrawn"
    assert [r["per_accelerator_hour"] for r in rates(api) if r["pool"] == "gpu"] == ["10.0000", "11.0000"]

    where = {"pool": "gpu", "effective_from": TOMORROW}
    withdrawn = api.delete(f"{API}/centers/qd/rates", params=where)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["standing"] == "withdrawn"
    assert len(rates(api)) == 2
    problem(api.delete(f"{API}/centers/qd/rates", params=where), 404)

    # The first rate is in force: it can be neither withdrawn nor changed.
    before = rates(api)
    first = {"pool": "gpu", "effective_from": "2026-11-28T12:00:00Z"}
    assert "never" in problem(api.delete(f"{API}/centers/qd/rates", params=first), 409)["detail"]
    clock.advance(DAY)
    publish(api, {"pool": "gpu", "per_accelerator_hour": 9, "effective_from": TOMORROW})
    assert (
        "never"
        in problem(publish(api, {"pool": "gpu", "per_accelerator_hour": 8, "effective_from": TOMORROW}), 409)["detail"]
    )
    assert [r["per_accelerator_hour"] for r in rates(api)] == [r["per_accelerator_hour"] for r in before] + ["9.0000"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"pool": "gpu", "per_accelerator_hour": 12, "effective_from": "2026-11-27T12:00:00Z"}, 422, "effective_from"),
        ({"pool": "gpu", "per_accelerator_hour": "-1"}, 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_cpu_hour": -0.5}, 422, "per_cpu_hour"),
        ({"pool": "gpu", "per_accelerator_hour": "twelve"}, 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_accelerator_hour": "NaN"}, 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_gb_hour": "Infinity"}, 422, "per_gb_hour"),
        ('{"pool": "gpu", "per_accelerator_hour": NaN}', 400, None),
        ('{"pool": "gpu", "per_accelerator_hour": 12.34567}', 422, "per_accelerator_hour"),
        ('{"pool": "gpu", "per_accelerator_hour": 12.345600000000000000001}', 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_accelerator_hour": "100000.0001"}, 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_accelerator_hour": True}, 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_accelerator_hour": [1]}, 422, "per_accelerator_hour"),
        ({"pool": "h100", "per_accelerator_hour": 1}, 404, "pool"),  # the center has no such pool
        ({"pool": "Not A Pool", "per_accelerator_hour": 1}, 422, "pool"),
        ({"pool": "gpu", "per_accelerator_hour": 1, "currency": "cny"}, 422, "currency"),
        ({"pool": "gpu", "per_accelerator_hour": 1, "currency": "YUAN"}, 422, "currency"),
        ({"pool": "gpu", "per_accelerator_hour": 1, "currency": "USD"}, 409, "currency"),  # the pool's is CNY
        ({"pool": "gpu", "per_accelerator_hour": 1, "effective_from": "2027-01-01T00:00:00"}, 422, "effective_from"),
        ({"pool": "gpu", "per_accelerator_hour": 1, "effective_from": 1798761600}, 422, "effective_from"),
        ({"pool": "gpu", "per_accelerator_hour": 1, "effective_from": "9000-01-01T00:00:00Z"}, 422, "effective_from"),
        ({"pool": "gpu", "per_accelerator_hour": 1, "effective_from": None}, 422, "effective_from"),
        ({"pool": "gpu", "per_accelerator_hour": None, "per_cpu_hour": 1}, 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_accelerator_hour": "1e2"}, 422, "per_accelerator_hour"),  # text: plain digits
        ({"pool": "gpu", "per_accelerator_hour": " 12"}, 422, "per_accelerator_hour"),
        ({"pool": "gpu"}, 422, "per_accelerator_hour"),
        ({"pool": "gpu", "per_accelerator_hour": 1, "price": 2}, 422, "price"),
        ("{", 400, None),
        ("[]", 422, "body"),
    ],
)
def test_bad_prices_are_refused_naming_the_field_and_nothing_is_written(
    api: TestClient, qd: str, body: Any, status: int, field: str | None
) -> None:
    before, hinted = rates(api), hints(api)
    refused = problem(publish(api, body), status)
    if field is not None:
        assert field in fields(refused), refused
    assert rates(api) == before and hints(api) == hinted


def test_another_organization_s_center_is_refused(clocked: Container, api: TestClient, qd: str) -> None:
    rival = person(clocked, "rival-admin", "rival", Role.ORG_ADMIN)
    acme = person(clocked, "acme-operator", "acme", Role.CENTER_OPERATOR)
    assert rival.post(f"{API}/centers", json=center("rival-ai")).status_code == 201
    before = rates(api, "rival-ai")
    body = {"pool": "gpu", "per_accelerator_hour": "1", "effective_from": TOMORROW}
    assert "rival" in problem(publish(acme, body, "rival-ai"), 403)["detail"]
    assert rates(api, "rival-ai") == before
    # Its own organization's operator may; every member reads the network's prices.
    assert publish(rival, body, "rival-ai").status_code == 201
    where = {"pool": "gpu", "effective_from": TOMORROW}
    problem(acme.delete(f"{API}/centers/rival-ai/rates", params=where), 403)
    assert len(rates(api, "rival-ai")) == 2
    assert len(acme.get(f"{API}/centers/rival-ai/rates").json()["rates"]) == 2


def test_unknown_centers_are_404(api: TestClient) -> None:
    body = {"pool": "gpu", "per_accelerator_hour": 1}
    for response in (
        api.get(f"{API}/centers/nowhere/rates"),
        publish(api, body, "nowhere"),
        api.delete(f"{API}/centers/nowhere/rates", params={"pool": "gpu", "effective_from": TOMORROW}),
    ):
        assert "nowhere" in problem(response, 404)["detail"]


def test_pools_keep_the_price_of_their_rate_and_new_pools_get_a_first_one(
    api: TestClient, clock: ManualClock, qd: str
) -> None:
    # An agent's hello or an old file may carry another price: the rate in force decides.
    changed = api.put(
        f"{API}/centers/qd/pools", json={"pools": [pool("gpu", price=99.0), pool("l40s", "L40S", price=6)]}
    )
    assert changed.status_code == 200, changed.text
    assert {p["name"]: p["price_per_accelerator_hour"] for p in changed.json()["pools"]} == {"gpu": 10.0, "l40s": 6.0}
    assert {r["pool"]: r["per_accelerator_hour"] for r in rates(api)} == {
        "cpu": "0.2000",  # a pool that is gone keeps its history
        "gpu": "10.0000",
        "l40s": "6.0000",
    }
    assert next(r for r in rates(api) if r["pool"] == "cpu")["accelerator"] is None


def test_a_center_registered_again_starts_from_its_own_prices(api: TestClient, clock: ManualClock, qd: str) -> None:
    publish(api, {"pool": "gpu", "per_accelerator_hour": 50, "effective_from": TOMORROW})
    assert api.delete(f"{API}/centers/qd").status_code == 204
    clock.advance(60)
    assert api.post(f"{API}/centers", json=center("qd", pool("gpu", price=7.0))).status_code == 201
    clock.advance(2 * DAY)
    assert in_force(api) == {"gpu": "7.0000"}  # the old center's planned 50 never applies
    assert [r["per_accelerator_hour"] for r in rates(api) if r["pool"] == "gpu"] == ["10.0000", "7.0000"]


def test_pools_from_before_prices_get_their_first_rate_at_the_first_cycle(api: TestClient, clocked: Container) -> None:
    assert api.post(f"{API}/centers", json=center("old", pool("gpu", price=4.5))).status_code == 201
    with clocked.store.engine.begin() as connection:  # as a database migrated from before rates
        connection.execute(delete(rates_table))
    assert rates(api, "old") == []
    clocked.loop.run_once()  # the first housekeeping looks at every center
    assert [(r["pool"], r["per_accelerator_hour"], r["origin"]) for r in rates(api, "old")] == [
        ("gpu", "4.5000", "pool")
    ]
