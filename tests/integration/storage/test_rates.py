"""The rates table (adapters/storage/rate_store.py) on SQLite and PostgreSQL: exact amounts,
never an in-force rate changed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from suanli.adapters.storage.rate_store import SqlRateStore
from suanli.adapters.storage.store import SqlStore
from suanli.domain.errors import Conflict, NotFound
from suanli.domain.pricing import MAX_PRICE, Origin, Rate, RateChange
from suanli.services.pricing import RateStore
from tests.integration.storage.helpers import T0, center_spec, later


@pytest.fixture
def rate_store(store: SqlStore) -> SqlRateStore:
    store.create_center(center_spec("qd"), T0)
    return SqlRateStore(store)


def _implements_the_port(rate_store: SqlRateStore) -> RateStore:
    return rate_store  # for mypy: SqlRateStore satisfies the RateStore protocol


@pytest.mark.parametrize("price", ["12.3456", "0.0001", "0.0125", "99999.9999", str(MAX_PRICE), "0"])
def test_amounts_round_trip_exactly(rate_store: SqlRateStore, price: str) -> None:
    change = RateChange("qd", "gpu", per_accelerator_hour=Decimal(price), per_cpu_hour=Decimal(price))
    stored, _ = rate_store.publish(change, T0)
    (read,) = rate_store.rates_of("qd")
    assert read == stored
    assert read.per_accelerator_hour == Decimal(price)
    assert str(read.per_cpu_hour) == str(Decimal(price).quantize(Decimal("0.0001")))  # digits and all
    # In the table: an integer of ten-thousandths, the same on both databases.
    with rate_store._store.engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT per_accelerator_hour FROM rates").scalar_one()
    assert type(raw) is int and raw == int(Decimal(price) * 10_000)


def test_publish_replaces_only_a_future_rate_and_withdraw_only_a_future_one(rate_store: SqlRateStore) -> None:
    rate_store.publish(RateChange("qd", "gpu", per_accelerator_hour=Decimal(10)), T0)
    planned = RateChange("qd", "gpu", effective_from=later(3600), per_accelerator_hour=Decimal(12))
    first, _ = rate_store.publish(planned, T0)
    corrected, replaced = rate_store.publish(
        RateChange("qd", "gpu", effective_from=later(3600), per_cpu_hour=Decimal("0.05")), later(60)
    )
    assert replaced == first and corrected.per_accelerator_hour == Decimal(12)
    assert [r.per_cpu_hour for r in rate_store.rates_of("qd")] == [Decimal(0), Decimal("0.05")]
    with pytest.raises(Conflict):
        rate_store.publish(planned, later(3600))  # in force now
    with pytest.raises(Conflict):
        rate_store.withdraw("qd", "gpu", later(3600), later(3600))
    assert rate_store.withdraw("qd", "gpu", later(3600), later(60)) == corrected
    assert len(rate_store.rates_of("qd")) == 1
    with pytest.raises(NotFound):
        rate_store.publish(RateChange("gone", "gpu", per_accelerator_hour=Decimal(1)), T0)


def test_first_rates_only_where_none_is_in_force_and_a_new_center_drops_its_namesakes_plans(
    rate_store: SqlRateStore,
) -> None:
    first = [Rate("qd", pool, T0, Decimal(10), published_at=T0, origin=Origin.POOL) for pool in ("gpu", "cpu")]
    assert rate_store.open_pools("qd", first[:1], T0, new_center=False) == first[:1]
    again = [Rate("qd", pool, later(60), Decimal(99), origin=Origin.POOL) for pool in ("gpu", "cpu")]
    assert [r.pool for r in rate_store.open_pools("qd", again, later(60), new_center=False)] == ["cpu"]
    rate_store.publish(RateChange("qd", "gpu", effective_from=later(7200), per_accelerator_hour=Decimal(5)), later(60))
    # A center of the same name registered later: its own prices from then on, none of the old plans.
    restart = [Rate("qd", "gpu", later(3600), Decimal(7), origin=Origin.POOL)]
    rate_store.open_pools("qd", restart, later(3600), new_center=True)
    card = rate_store.cards("qd")["qd", "gpu"]
    assert [r.per_accelerator_hour for r in card.rates] == [Decimal(10), Decimal(7)]
    assert card.in_force(later(10_000)).per_accelerator_hour == Decimal(7)  # type: ignore[union-attr]
    assert sorted(rate_store.cards()) == [("qd", "cpu"), ("qd", "gpu")]


def test_due_names_the_rates_that_took_effect_in_a_window(rate_store: SqlRateStore) -> None:
    rate_store.publish(RateChange("qd", "gpu", per_accelerator_hour=Decimal(10)), T0)
    rate_store.publish(RateChange("qd", "gpu", effective_from=later(3600), per_accelerator_hour=Decimal(12)), T0)
    assert rate_store.due(T0, later(3599)) == []
    assert rate_store.due(T0, later(3600)) == [("qd", "gpu", later(3600))]
    assert len(rate_store.due(None, later(3600))) == 2
    assert rate_store.due(T0 - timedelta(seconds=1), T0) == [("qd", "gpu", T0)]
