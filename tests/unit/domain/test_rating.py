"""Rating usage under effective-dated rates: exact, split where prices change, additive over any
cut of an interval, and booked as a balanced charge."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.ledger import AccountKind, balances
from suanli.domain.money import ZERO, to_fen
from suanli.domain.pricing import Rate, RateCard
from suanli.domain.rating import charge_for, cost, seconds
from suanli.domain.usage import UsageRecord

T0 = datetime(2027, 1, 1, tzinfo=UTC)


def record(
    start: datetime,
    end: datetime,
    *,
    accelerator: str = "A100",
    accelerators: int = 8,
    cpus: int = 32,
    memory_gb: float = 256.0,
    record_id: int = 1,
) -> UsageRecord:
    return UsageRecord(
        job_id=7,
        attempt=1,
        interval_start=start,
        interval_end=end,
        organization="acme",
        project="default",
        center="qd-ai",
        center_organization="qd-owner",
        pool="gpu",
        accelerator=accelerator,
        accelerators=accelerators if accelerator != "CPU" else 0,
        cpus=cpus,
        memory_gb=memory_gb,
        reason="SUCCEEDED",
        recorded_at=end,
        id=record_id,
    )


def rate(at: datetime, accelerator: str, cpu: str = "0", gb: str = "0") -> Rate:
    return Rate("qd-ai", "gpu", at, Decimal(accelerator), Decimal(cpu), Decimal(gb))


CARD = RateCard(
    "qd-ai", "gpu", [rate(T0, "12.5", "0.05", "0.01"), rate(T0 + timedelta(hours=10), "10", "0.04", "0.0125")]
)


def test_one_rate_hours_times_prices() -> None:
    two_hours = record(T0, T0 + timedelta(hours=2))
    assert cost(two_hours, CARD) == Decimal(2) * (8 * Decimal("12.5") + 32 * Decimal("0.05") + 256 * Decimal("0.01"))


def test_a_price_change_inside_a_record_splits_it() -> None:
    across = record(T0 + timedelta(hours=9), T0 + timedelta(hours=11))
    before = 8 * Decimal("12.5") + 32 * Decimal("0.05") + 256 * Decimal("0.01")
    after = 8 * Decimal("10") + 32 * Decimal("0.04") + 256 * Decimal("0.0125")
    assert cost(across, CARD) == before + after


def test_a_cpu_pool_charges_its_cores_at_the_accelerator_hour_price() -> None:
    cpu = record(T0, T0 + timedelta(hours=1), accelerator="CPU", cpus=4, memory_gb=8.0)
    assert cost(cpu, CARD) == 4 * Decimal("12.5") + 8 * Decimal("0.01")


def test_time_before_the_first_rate_is_not_priced() -> None:
    early = record(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert cost(early, CARD) == cost(record(T0, T0 + timedelta(hours=1)), CARD)


def test_seconds_are_exact_to_the_microsecond() -> None:
    assert seconds(timedelta(days=1, seconds=1, microseconds=1)) == Decimal("86401.000001")


offsets = st.integers(min_value=0, max_value=30 * 3600 * 10**6)  # microseconds into the card's life


@given(offsets, offsets, offsets)
def test_cost_is_additive_over_any_cut(a: int, b: int, c: int) -> None:
    start, cut, end = (T0 + timedelta(microseconds=x) for x in sorted((a, b, c)))
    whole = cost(record(start, end), CARD)
    parts = cost(record(start, cut), CARD) + cost(record(cut, end), CARD)
    assert abs(whole - parts) < Decimal("1e-18")  # one division each, at 28 digits: never a fen apart


@given(offsets, offsets, st.decimals(min_value=Decimal("0"), max_value=Decimal("0.3"), places=3))
def test_the_charge_books_the_cost_rounded_once(a: int, b: int, fee_rate: Decimal) -> None:
    start, end = (T0 + timedelta(microseconds=x) for x in sorted((a, b)))
    usage = record(start, end)
    made = charge_for(usage, CARD, fee_rate)
    amount = to_fen(cost(usage, CARD))
    if amount == 0:
        assert made is None
        return
    assert made is not None and made.key == "usage:1"
    by_kind = {a.kind: v for a, v in balances([made]).items()}
    assert by_kind[AccountKind.RECEIVABLE] == amount
    assert -(by_kind.get(AccountKind.PAYABLE, ZERO) + by_kind.get(AccountKind.FEE, ZERO)) == amount


def test_the_charge_names_the_job_and_interval() -> None:
    made = charge_for(record(T0, T0 + timedelta(hours=1)), CARD, Decimal("0.05"))
    assert made is not None and "job 7 attempt 1 on qd-ai/gpu" in made.memo
    assert dataclasses.replace(made).entries == made.entries
