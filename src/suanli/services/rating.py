"""Rating: every usage record becomes a charge in the ledger, at the rate in force when it ran.

The rater reads the usage records in the order of their ids, a batch at a time, rates each
under its pool's rate card (``domain.rating``) and books the charges together with how far it
has read, in one transaction: a crash between two batches loses nothing and books nothing twice
(a charge's key is its usage record's). It runs in the scheduler leader's housekeeping, so
charges follow usage within moments, and on demand (``rate_new``).

It stays ``settle_s`` (10 s) behind the newest records: on PostgreSQL a record's id is drawn
when it is inserted, not when its transaction commits, so a record may become visible after one
with a higher id; reading only records written a while ago lets every transaction that drew a
lower id commit first (a write transaction of Suanli's lasts milliseconds).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from suanli.domain.ledger import Account, Transaction
from suanli.domain.pricing import RateCard
from suanli.domain.rating import charge_for
from suanli.domain.usage import UsageRecord
from suanli.services.clock import Clock

log = logging.getLogger("suanli.rating")

BATCH = 10_000


class LedgerStore(Protocol):
    def unrated_usage(self, limit: int, recorded_before: datetime) -> list[UsageRecord]: ...
    def book(
        self, transactions: list[tuple[Transaction, int | None]], now: datetime, *, usage_read_to: int | None = None
    ) -> int: ...
    def balances(self, accounts: list[str] | None = None, *, until: datetime | None = None) -> dict[str, Decimal]: ...


class RateCards(Protocol):
    def cards(self, center: str | None = None) -> dict[tuple[str, str], RateCard]: ...


class RatingService:
    def __init__(
        self,
        ledger: LedgerStore,
        rates: RateCards,
        clock: Clock,
        *,
        fee_rate: Decimal = Decimal(0),
        batch: int = BATCH,
        settle_s: float = 10.0,
    ) -> None:
        self.ledger = ledger
        self.settle = timedelta(seconds=settle_s)
        self.rates = rates
        self.clock = clock
        self.fee_rate = fee_rate
        self.batch = batch
        self._unpriced: set[tuple[str, str]] = set()  # pools already logged as having no rate

    def rate_new(self) -> int:
        """Rates every usage record not rated yet; returns how many charges it booked."""
        booked = 0
        while records := self.ledger.unrated_usage(self.batch, self.clock.now() - self.settle):
            cards = self.rates.cards()
            charges = []
            for record in records:
                card = cards.get((record.center, record.pool))
                if card is None:
                    self._no_rate(record)
                    continue
                made = charge_for(record, card, self.fee_rate)
                if made is not None:
                    charges.append((made, record.id))
            last = records[-1].id
            booked += self.ledger.book(charges, self.clock.now(), usage_read_to=last)
            if len(records) < self.batch:
                break
        return booked

    def housekeep(self) -> None:
        """``rate_new`` for the scheduler loop: a failure is logged, never raised (rating resumes
        where it stopped at the next turn; scheduling must not stop for it)."""
        try:
            self.rate_new()
        except Exception:
            log.exception("rating the new usage records failed; the next turn tries again")

    def balances(self, accounts: list[Account] | None, *, until: datetime | None = None) -> dict[str, Decimal]:
        """The balances of ``accounts`` (None: every account that has entries)."""
        names = None if accounts is None else [str(account) for account in accounts]
        return self.ledger.balances(names, until=until)

    def _no_rate(self, record: UsageRecord) -> None:
        pool = (record.center, record.pool)
        if pool not in self._unpriced:
            self._unpriced.add(pool)
            log.warning(
                "usage on %s/%s has no rate to charge it at (the pool has none): booked as free; publish one "
                "with `suanli price set %s --pool %s ...`",
                *pool,
                *pool,
            )
