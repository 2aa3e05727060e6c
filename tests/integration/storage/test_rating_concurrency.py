"""Two server processes rating at once never double-charge: two ``RatingService`` instances,
each on its own engine (its own connection pool, as two processes have), rate the same few
thousand usage records in two threads released together, in small batches so that they
interleave many times. Afterwards every record is charged exactly once, every transaction
balances, the ledger's total is zero, and what the organizations owe is the sum of each record's
cost computed independently (``domain.rating.cost`` rounded with ``money.to_fen``).

On PostgreSQL the race is real (the unique key of a charge is what keeps it single); on SQLite
writers queue, so the same test is cheap there and checks the same invariants."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, insert, select

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.ledger_store import USAGE_PROGRESS, SqlLedgerStore
from suanli.adapters.storage.rate_store import SqlRateStore
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import ledger_entries, ledger_transactions, rating_progress, usage_records
from suanli.adapters.storage.usage_rows import record_from_row
from suanli.domain.money import to_fen
from suanli.domain.pricing import RateChange
from suanli.domain.rating import cost
from suanli.services.rating import RatingService
from tests.integration.storage.helpers import T0, center_spec, later
from tests.integration.storage.test_usage_concurrency import together

RECORDS = 3000
BATCH = 97  # small and odd: the two raters overlap over many batches, not one
FEE = Decimal("0.05")
ORGANIZATIONS = ("acme", "beta", "gamma")
CENTERS = ("qd-ai-1", "sh-ai-2")


class FixedClock:
    """Far past every record's ``recorded_at`` plus the rater's settling margin."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


@pytest.fixture
def second_engine(engine: Engine) -> Iterator[Engine]:
    other = make_engine(engine.url)
    yield other
    other.dispose()


def write_usage(engine: Engine, seed: int) -> None:
    """RECORDS usage records over two centers whose pools have odd prices that change in the
    middle of the records (so some records are split between two rates)."""
    store, rates = SqlStore(engine), SqlRateStore(SqlStore(engine))
    for center in CENTERS:
        store.create_center(center_spec(center), T0)
        rates.publish(
            RateChange(
                center,
                "gpu",
                effective_from=T0,
                per_accelerator_hour=Decimal("12.3457"),
                per_cpu_hour=Decimal("0.0125"),
                per_gb_hour=Decimal("0.0037"),
            ),
            T0,
        )
        rates.publish(
            RateChange(center, "gpu", effective_from=later(5 * 3600), per_accelerator_hour=Decimal("9.99")), T0
        )
    rng = random.Random(seed)
    values = []
    for i in range(RECORDS):
        start = later(rng.uniform(0, 10 * 3600))
        end = start + timedelta(seconds=rng.choice([0, 0.000001, 0.3, 1.7, 59.999]) + rng.uniform(0, 3600))
        center = CENTERS[i % len(CENTERS)]
        values.append(
            {
                "job_id": i // 3 + 1,
                "attempt": 1,
                "interval_start": start,
                "interval_end": end,
                "seconds": (end - start).total_seconds(),
                "organization": ORGANIZATIONS[i % len(ORGANIZATIONS)],
                "project": "default",
                "center": center,
                "center_organization": f"{center} org",
                "pool": "gpu",
                "accelerator": "A100-80G",
                "accelerators": rng.choice([1, 2, 8, 16]),
                "cpus": rng.choice([1, 4, 96]),
                "memory_gb": rng.choice([0.5, 8.0, 12.3, 1024.0]),
                "reason": rng.choice(["checkpoint", "SUCCEEDED", "FAILED", "LOST"]),
                "recorded_at": later(11 * 3600),
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(usage_records), values)


def expected_receivables(engine: Engine) -> dict[str, Decimal]:
    """What each organization owes: each record's exact cost rounded to the fen, summed."""
    cards = SqlRateStore(SqlStore(engine)).cards()
    owed: dict[str, Decimal] = defaultdict(Decimal)
    with engine.connect() as connection:
        for row in connection.execute(select(usage_records)):
            record = record_from_row(row)
            owed[f"receivable:{record.organization}"] += to_fen(cost(record, cards[(record.center, record.pool)]))
    return {account: total for account, total in owed.items() if total}


def test_two_raters_at_once_charge_every_record_exactly_once(engine: Engine, second_engine: Engine) -> None:
    write_usage(engine, seed=13)
    clock = FixedClock(later(12 * 3600))  # an hour past every recorded_at: far beyond the 10 s margin
    raters = [
        RatingService(SqlLedgerStore(SqlStore(e)), SqlRateStore(SqlStore(e)), clock, fee_rate=FEE, batch=BATCH)
        for e in (engine, second_engine)
    ]
    booked = [0, 0]

    def rate(index: int) -> None:
        booked[index] = raters[index].rate_new()

    together(lambda: rate(0), lambda: rate(1))

    with engine.connect() as connection:
        charges = connection.execute(
            select(ledger_transactions.c.key, func.count()).group_by(ledger_transactions.c.key)
        ).all()
        usage_ids = set(connection.execute(select(usage_records.c.id)).scalars())
        linked = connection.execute(select(ledger_transactions.c.key, ledger_transactions.c.usage_id)).all()
        per_transaction = connection.execute(
            select(ledger_entries.c.transaction_id, func.count(), func.sum(ledger_entries.c.amount)).group_by(
                ledger_entries.c.transaction_id
            )
        ).all()
        total = connection.execute(select(func.sum(ledger_entries.c.amount))).scalar_one()
        read_to = connection.execute(
            select(rating_progress.c.last_usage_id).where(rating_progress.c.name == USAGE_PROGRESS)
        ).scalar_one()

    doubled = [key for key, count in charges if count != 1]
    assert doubled == [], f"charged more than once: {doubled[:10]}"
    assert all(key.startswith("usage:") for key, _ in charges), "a transaction that is not a usage charge"
    assert sum(booked) == len(charges), f"the raters said they booked {booked}, the ledger holds {len(charges)}"
    assert all(key == f"usage:{usage_id}" for key, usage_id in linked), "a charge names another record than its key"
    assert {usage_id for _, usage_id in linked} <= usage_ids, "a charge of a record that does not exist"
    assert read_to == max(usage_ids), f"the rater stopped at record {read_to} of {max(usage_ids)}"
    unbalanced = [(t, n, s) for t, n, s in per_transaction if n < 2 or s != 0]
    assert unbalanced == [], f"transactions that do not balance (id, entries, sum): {unbalanced[:10]}"
    assert len(per_transaction) == len(charges), "a transaction without entries"
    assert total == 0, f"the ledger's entries sum to {total}, not zero"

    expected = expected_receivables(engine)
    # every record with a cost of at least half a fen is charged; the others cost nothing
    charged = {usage_id for _, usage_id in linked}
    costly = set(_charged_records(engine))
    assert charged == costly, (
        f"records with a cost but no charge: {sorted(costly - charged)[:10]}; "
        f"charges of records that cost nothing: {sorted(charged - costly)[:10]}"
    )
    receivables = {a: b for a, b in raters[0].balances(None).items() if a.startswith("receivable:")}
    assert receivables == expected, f"owed {receivables}, the records cost {expected}"
    assert raters[0].rate_new() + raters[1].rate_new() == 0, "rating again booked something"


def _charged_records(engine: Engine) -> Iterator[int]:
    """The ids of the records whose cost rounds to at least a fen."""
    cards = SqlRateStore(SqlStore(engine)).cards()
    with engine.connect() as connection:
        for row in connection.execute(select(usage_records)):
            record = record_from_row(row)
            if to_fen(cost(record, cards[(record.center, record.pool)])) != 0:
                yield row.id
