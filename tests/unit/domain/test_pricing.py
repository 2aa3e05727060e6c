"""Prices (domain/pricing.py): exact amounts, effective dating, rate cards and compute units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.errors import Conflict, InvalidSpec, NotFound
from suanli.domain.pricing import (
    PAST_TOLERANCE,
    Origin,
    Rate,
    RateCard,
    RateChange,
    Standing,
    amount,
    compute_units,
    effective_moment,
    pool_rate,
)

T0 = datetime(2027, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def rate(at: datetime, price: str = "10", pool: str = "gpu", **fields: object) -> Rate:
    return Rate("qd", pool, at, Decimal(price), **fields)  # type: ignore[arg-type]


def card(*rates: Rate) -> RateCard:
    return RateCard("qd", "gpu", rates)


# -- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("12.5", "12.5000"),
        ("0.0125", "0.0125"),
        (7, "7.0000"),
        (Decimal("12.34560"), "12.3456"),  # a trailing zero is not a fifth place
        (Decimal("1E+2"), "100.0000"),
        ("100000", "100000.0000"),
        ("100000.00", "100000.0000"),
        ("0012.5", "12.5000"),
        (Decimal("-0"), "0.0000"),
    ],
)
def test_amounts_are_exact_decimals_with_four_places(given: object, expected: str) -> None:
    assert str(amount(given, "per_cpu_hour")) == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("-1", "negative"),
        ("-0", "plain digits"),  # text is plain digits: what the API's schema says
        ("1e2", "plain digits"),
        (" 3 ", "plain digits"),
        ("+3", "plain digits"),
        ("12.34560", "plain digits"),
        ("3\n", "plain digits"),
        (-0.5, "float"),
        (12.5, "float"),  # exact as it may look, a float is not money
        ("abc", "not a number"),
        ("12,5", "not a number"),
        ("", "not a number"),
        ("١٢", "not a number"),  # digits, but not ones a price is written in
        ("NaN", "finite"),
        ("Infinity", "finite"),
        (Decimal("NaN"), "finite"),
        ("12.34567", "more than 4 decimal places"),
        ("0.00001", "more than 4 decimal places"),
        ("100000.0001", "at most"),
        ("1e400", "at most"),
        (True, "bool"),
        (None, "NoneType"),
    ],
)
def test_bad_amounts_are_refused_naming_the_field(given: object, says: str) -> None:
    with pytest.raises(InvalidSpec) as refused:
        amount(given, "per_gb_hour")
    assert refused.value.field == "per_gb_hour"
    assert says in refused.value.message and refused.value.message.startswith("per_gb_hour: ")


def test_a_rate_normalizes_to_utc_and_checks_everything() -> None:
    shanghai = timezone(timedelta(hours=8))
    made = Rate("qd", "gpu", datetime(2027, 1, 1, 8, tzinfo=shanghai), Decimal("12.5"))
    assert made.effective_from == T0 and made.effective_from.tzinfo is UTC
    assert (made.per_cpu_hour, made.per_gb_hour, made.currency) == (Decimal(0), Decimal(0), "CNY")
    with pytest.raises(InvalidSpec, match="time zone"):
        Rate("qd", "gpu", datetime(2027, 1, 1), Decimal(1))
    for currency in ("cny", "CN", "CNYX", "12A", "ÇNY"):
        with pytest.raises(InvalidSpec) as refused:
            Rate("qd", "gpu", T0, Decimal(1), currency=currency)
        assert refused.value.field == "currency"
    with pytest.raises(InvalidSpec) as refused:
        Rate("qd", "gpu", T0, Decimal(1), per_cpu_hour=Decimal("-0.01"))
    assert refused.value.field == "per_cpu_hour"


def test_a_change_needs_a_price() -> None:
    with pytest.raises(InvalidSpec, match="at least one price"):
        RateChange("qd", "gpu")
    assert RateChange("qd", "gpu", per_gb_hour=Decimal("0.01")).per_gb_hour == Decimal("0.0100")


# -- effective dating ------------------------------------------------------------------------------


def test_a_price_takes_effect_now_or_later_never_in_the_past() -> None:
    assert effective_moment(None, T0) == T0
    assert effective_moment(T0 + HOUR, T0) == T0 + HOUR
    # A moment ago (a client's clock, the network) means now: never before now.
    assert effective_moment(T0 - PAST_TOLERANCE, T0) == T0
    with pytest.raises(InvalidSpec) as refused:
        effective_moment(T0 - PAST_TOLERANCE - timedelta(microseconds=1), T0)
    assert refused.value.field == "effective_from" and "has already passed" in refused.value.message
    with pytest.raises(InvalidSpec, match="calendar"):
        effective_moment(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), T0)


def test_admit_carries_unnamed_prices_over_and_keeps_the_currency() -> None:
    first = rate(T0, "10", per_cpu_hour=Decimal("0.05"))
    new, replaced = card(first).admit(RateChange("qd", "gpu", per_accelerator_hour=Decimal("12")), T0 + HOUR)
    assert replaced is None
    assert (new.effective_from, new.per_accelerator_hour, new.per_cpu_hour) == (T0 + HOUR, Decimal(12), Decimal("0.05"))
    assert (new.published_at, new.origin, new.currency) == (T0 + HOUR, Origin.PUBLISHED, "CNY")
    with pytest.raises(Conflict) as conflict:
        card(first).admit(RateChange("qd", "gpu", currency="USD", per_gb_hour=Decimal(1)), T0 + HOUR)
    assert conflict.value.field == "currency" and "CNY" in conflict.value.message
    # The first rate of an empty card: what is not named is free, in CNY.
    alone, _ = card().admit(RateChange("qd", "gpu", per_cpu_hour=Decimal(1)), T0)
    assert (alone.per_accelerator_hour, alone.currency) == (Decimal(0), "CNY")


def test_a_future_rate_may_be_corrected_and_one_in_force_never() -> None:
    planned = rate(T0 + 24 * HOUR, "20", per_cpu_hour=Decimal("0.1"))
    prices = card(rate(T0), planned)
    correction = RateChange("qd", "gpu", effective_from=T0 + 24 * HOUR, per_accelerator_hour=Decimal(18))
    corrected, replaced = prices.admit(correction, T0 + HOUR)
    assert replaced == planned
    assert (corrected.per_accelerator_hour, corrected.per_cpu_hour) == (Decimal(18), Decimal("0.1"))
    with pytest.raises(Conflict, match="in force"):
        prices.admit(correction, T0 + 24 * HOUR)  # its time has come
    with pytest.raises(Conflict, match="in force"):
        prices.admit(RateChange("qd", "gpu", per_accelerator_hour=Decimal(1)), T0)  # "now" is the first rate's time


def test_only_a_future_rate_may_be_withdrawn() -> None:
    planned = rate(T0 + 24 * HOUR)
    prices = card(rate(T0), planned)
    assert prices.withdrawable(T0 + 24 * HOUR, T0 + HOUR) == planned
    with pytest.raises(Conflict):
        prices.withdrawable(T0, T0 + HOUR)
    with pytest.raises(NotFound):
        prices.withdrawable(T0 + 2 * HOUR, T0 + HOUR)


def test_a_card_holds_one_pool_one_rate_per_time_one_currency() -> None:
    with pytest.raises(ValueError, match="one pool"):
        RateCard("qd", "gpu", [rate(T0, pool="cpu")])
    with pytest.raises(ValueError, match="same time"):
        card(rate(T0), rate(T0, "11"))
    with pytest.raises(ValueError, match="currency"):
        card(rate(T0), rate(T0 + HOUR, currency="USD"))


def test_standing_is_seen_from_an_instant() -> None:
    old, current, planned = rate(T0), rate(T0 + HOUR, "11"), rate(T0 + 2 * HOUR, "12")
    prices = card(planned, old, current)
    at = T0 + 90 * timedelta(minutes=1)
    assert [prices.standing(r, at) for r in prices.rates] == [
        Standing.SUPERSEDED,
        Standing.IN_FORCE,
        Standing.SCHEDULED,
    ]
    assert prices.in_force(T0 - timedelta(microseconds=1)) is None
    assert prices.in_force(T0) == old and prices.in_force(T0 + HOUR) == current


def test_segments_cut_where_the_price_changes() -> None:
    old, new = rate(T0, "10"), rate(T0 + 2 * HOUR, "12")
    prices = card(old, new)
    assert prices.segments(T0 + HOUR, T0 + 3 * HOUR) == [
        (T0 + HOUR, T0 + 2 * HOUR, old),
        (T0 + 2 * HOUR, T0 + 3 * HOUR, new),
    ]
    assert prices.segments(T0 - HOUR, T0 + HOUR) == [(T0, T0 + HOUR, old)]  # no price before the first rate
    assert prices.segments(T0 - 2 * HOUR, T0 - HOUR) == []
    assert prices.segments(T0 + HOUR, T0 + HOUR) == []
    assert card().segments(T0, T0 + HOUR) == []


MINUTES = st.integers(min_value=-600, max_value=600)


@settings(max_examples=300)
@given(starts=st.lists(MINUTES, unique=True, max_size=8), ends=st.tuples(MINUTES, MINUTES))
def test_segments_tile_the_priced_interval_with_the_rate_in_force(starts: list[int], ends: tuple[int, int]) -> None:
    prices = card(*(rate(T0 + timedelta(minutes=m), str(i)) for i, m in enumerate(starts)))
    start, end = (T0 + timedelta(minutes=m) for m in sorted(ends))
    pieces = prices.segments(start, end)
    priced_from = max(start, prices.rates[0].effective_from) if prices.rates else end
    if priced_from >= end:
        assert pieces == []
        return
    # They tile [priced_from, end): in order, touching, non-empty.
    assert pieces[0][0] == priced_from and pieces[-1][1] == end
    for (_, to, _), (following, _, _) in zip(pieces, pieces[1:], strict=False):
        assert to == following
    assert all(a < b for a, b, _ in pieces)
    # At every instant of a piece (its ends and the minutes between), the piece's rate is in force.
    for a, b, in_force in pieces:
        moment = a
        while moment < b:
            assert prices.in_force(moment) == in_force
            moment += timedelta(minutes=1)
        assert prices.in_force(b - timedelta(microseconds=1)) == in_force
    # ... and each next piece has another rate: a cut is a change.
    assert all(x[2] != y[2] for x, y in zip(pieces, pieces[1:], strict=False))


# -- a pool's own price, compute units -------------------------------------------------------------


def test_a_pool_price_becomes_its_first_rate_exactly_as_written() -> None:
    first = pool_rate("qd", "gpu", 0.1, T0)
    assert first.per_accelerator_hour == Decimal("0.1")  # the text of the float, not its binary value
    assert (first.origin, first.per_cpu_hour, first.effective_from) == (Origin.POOL, Decimal(0), T0)
    assert pool_rate("qd", "gpu", 12.34565, T0).per_accelerator_hour == Decimal("12.3457")  # half away from zero


def test_compute_units_are_a100_hour_equivalents_from_the_catalog() -> None:
    catalog = AcceleratorCatalog()
    assert compute_units("A100", Decimal(10), catalog) == Decimal("10.0000")
    assert compute_units("a100-80g", 1, catalog) == Decimal(1)  # any name the catalog resolves
    assert compute_units("H100", Decimal(11), catalog) == Decimal("16.0000")  # 11 x 3.2 / 2.2
    assert compute_units("V100", Decimal(1), catalog) == Decimal("0.4545")  # 1 / 2.2, rounded
    assert compute_units("CPU", Decimal(22), catalog) == Decimal("0.5000")  # 22 core-hours x 0.05 / 2.2
    assert compute_units("910B", Decimal("1.1"), catalog) == Decimal("1.0000")
    with pytest.raises(InvalidSpec, match="Z9000"):
        compute_units("Z9000", Decimal(1), catalog)
    for hours in (Decimal(-1), Decimal("NaN"), 1.5):
        with pytest.raises(InvalidSpec):
            compute_units("A100", hours, catalog)  # type: ignore[arg-type]
