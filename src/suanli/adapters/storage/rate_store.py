"""``SqlRateStore``: the RateStore port (prices, domain/pricing.py) on SQLAlchemy Core.

Every change of a center's rates runs in one write transaction that first takes the center's
row (FOR UPDATE on PostgreSQL; SQLite's writer lock does it there), reads the pool's card and
asks the domain whether the change is admitted: two publishers of one center take turns, and
a center deleted meanwhile is NotFound. A rate in force is never updated or deleted here; only
a future one is replaced or withdrawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from suanli.adapters.storage import rows
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import centers, rates
from suanli.domain.errors import NotFound
from suanli.domain.pricing import Origin, Rate, RateCard, RateChange

_COLUMNS = [
    rates.c.center,
    rates.c.pool,
    rates.c.effective_from,
    rates.c.per_accelerator_hour,
    rates.c.per_cpu_hour,
    rates.c.per_gb_hour,
    rates.c.currency,
    rates.c.published_at,
    rates.c.published_by,
    rates.c.origin,
]
_ORDER = (rates.c.center, rates.c.pool, rates.c.effective_from)


def rate_from_row(row: Any) -> Rate:
    return Rate(
        center=row.center,
        pool=row.pool,
        effective_from=row.effective_from,
        per_accelerator_hour=row.per_accelerator_hour,
        per_cpu_hour=row.per_cpu_hour,
        per_gb_hour=row.per_gb_hour,
        currency=row.currency,
        published_at=row.published_at,
        published_by=row.published_by,
        origin=Origin(row.origin),
    )


def rate_values(rate: Rate) -> dict[str, Any]:
    return {
        "center": rate.center,
        "pool": rate.pool,
        "effective_from": rows.utc(rate.effective_from),
        "currency": rate.currency,
        "per_accelerator_hour": rate.per_accelerator_hour,
        "per_cpu_hour": rate.per_cpu_hour,
        "per_gb_hour": rate.per_gb_hour,
        "published_at": rows.utc(rate.published_at or rate.effective_from),
        "published_by": rate.published_by,
        "origin": rate.origin.value,
    }


def cards_of(found: Iterable[Rate]) -> dict[tuple[str, str], RateCard]:
    grouped: dict[tuple[str, str], list[Rate]] = {}
    for rate in found:
        grouped.setdefault((rate.center, rate.pool), []).append(rate)
    return {(center, pool): RateCard(center, pool, listed) for (center, pool), listed in grouped.items()}


class SqlRateStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    # reading ------------------------------------------------------------------------------------

    def rates_of(self, center: str) -> list[Rate]:
        """Every rate of ``center``'s pools, by pool and time."""
        statement = select(*_COLUMNS).where(rates.c.center == center).order_by(*_ORDER)
        with self._store._read() as connection:
            return [rate_from_row(row) for row in connection.execute(statement)]

    def cards(self, center: str | None = None) -> dict[tuple[str, str], RateCard]:
        """The rate card of every pool (of ``center``, or of every center), by (center, pool)."""
        statement = select(*_COLUMNS).order_by(*_ORDER)
        if center is not None:
            statement = statement.where(rates.c.center == center)
        with self._store._read() as connection:
            return cards_of(rate_from_row(row) for row in connection.execute(statement))

    def due(self, after: datetime | None, now: datetime) -> list[tuple[str, str, datetime]]:
        """(center, pool, effective_from) of the rates that took effect in (``after``, ``now``];
        of every rate in force by ``now`` when ``after`` is None."""
        statement = select(rates.c.center, rates.c.pool, rates.c.effective_from).where(
            rates.c.effective_from <= rows.utc(now)
        )
        if after is not None:
            statement = statement.where(rates.c.effective_from > rows.utc(after))
        with self._store._read() as connection:
            return [(row.center, row.pool, rows.utc(row.effective_from)) for row in connection.execute(statement)]

    # writing ------------------------------------------------------------------------------------

    def publish(self, change: RateChange, now: datetime) -> tuple[Rate, Rate | None]:
        """Stores the rate ``change`` publishes (RateCard.admit) and drops the future rate it
        replaces, if any; returns both."""
        with self._store._write() as connection:
            self._take_center(connection, change.center)
            rate, replaced = self._card(connection, change.center, change.pool).admit(change, now)
            if replaced is not None:
                connection.execute(delete(rates).where(*_key(replaced)))
            connection.execute(insert(rates), rate_values(rate))
        return rate, replaced

    def withdraw(self, center: str, pool: str, effective_from: datetime, now: datetime) -> Rate:
        """Deletes the future rate of ``pool`` from ``effective_from`` (RateCard.withdrawable)."""
        with self._store._write() as connection:
            self._take_center(connection, center)
            rate = self._card(connection, center, pool).withdrawable(effective_from, now)
            connection.execute(delete(rates).where(*_key(rate)))
        return rate

    def open_pools(self, center: str, first: Sequence[Rate], now: datetime, *, new_center: bool) -> list[Rate]:
        """Stores each of ``first`` (a pool's first rate, from its declared price) whose pool has
        no rate in force at ``now``; returns those stored. For a ``new_center`` every one is
        stored, and the rates a deleted center of the same name had scheduled from now on are
        dropped first: they never applied, and its successor starts from its own prices."""
        stored: list[Rate] = []
        with self._store._write() as connection:
            self._take_center(connection, center)
            if new_center:
                connection.execute(
                    delete(rates).where(rates.c.center == center, rates.c.effective_from >= rows.utc(now))
                )
            for rate in first:
                if not new_center and self._card(connection, center, rate.pool).in_force(now) is not None:
                    continue
                connection.execute(insert(rates), rate_values(rate))
                stored.append(rate)
        return stored

    # helpers ------------------------------------------------------------------------------------

    def _take_center(self, connection: Connection, center: str) -> None:
        lookup = select(centers.c.name).where(centers.c.name == center)
        if connection.execute(lookup.with_for_update() if self._postgres else lookup).first() is None:
            raise NotFound(f"center {center!r} not found; `suanli center list` shows the registered centers")

    def _card(self, connection: Connection, center: str, pool: str) -> RateCard:
        statement = select(*_COLUMNS).where(rates.c.center == center, rates.c.pool == pool)
        return RateCard(center, pool, [rate_from_row(row) for row in connection.execute(statement)])


def _key(rate: Rate) -> tuple[Any, ...]:
    return (
        rates.c.center == rate.center,
        rates.c.pool == rate.pool,
        rates.c.effective_from == rows.utc(rate.effective_from),
    )
