"""Use cases for prices (rate cards): publish, withdraw and list a center's rates, and keep each
pool's price hint for the scheduler in step with the rate in force.

How the pool's ``price_per_accelerator_hour`` (a float: the scheduler's price hint, never money)
relates to the rates (docs/pricing.md):

- a pool that appears with a declared price (a center registered, pools replaced, an agent's
  hello) and has no rate in force gets its first rate from that price, effective at once, with
  nothing for CPUs and memory;
- from then on the rates decide: whenever pools are set, each pool's hint is the accelerator-hour
  price of its rate in force, whatever price the pools carried (an agent's config or an old file
  cannot undercut a published price);
- a rate published to take effect now updates the hints at once; a future one when it comes due,
  by the scheduler loop's housekeeping (``apply_due``, before each cycle, on the leader).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from suanli.domain.centers import Center, Pool
from suanli.domain.errors import NotFound, StaleVersion
from suanli.domain.pricing import Rate, RateCard, RateChange, Standing, pool_rate, price_hint
from suanli.services.centers import CenterService
from suanli.services.clock import Clock

_RETRIES = 3
# How far back the housekeeping looks again for rates that came due: a rate published by another
# process whose clock runs behind the leader's is still found.
CLOCK_SKEW = timedelta(minutes=1)


class RateStore(Protocol):
    """Where rates are kept: appended, never changed once in force (adapters/storage/rate_store.py)."""

    def rates_of(self, center: str) -> list[Rate]: ...

    def cards(self, center: str | None = None) -> dict[tuple[str, str], RateCard]:
        """Every pool's card (of ``center``, or of all), by (center, pool)."""

    def due(self, after: datetime | None, now: datetime) -> list[tuple[str, str, datetime]]:
        """(center, pool, effective_from) of the rates that took effect in (``after``, ``now``]."""

    def publish(self, change: RateChange, now: datetime) -> tuple[Rate, Rate | None]:
        """In one transaction: the pool's card admits the change (RateCard.admit); the new rate
        is stored and the future one it replaces dropped. NotFound for a center that is gone."""

    def withdraw(self, center: str, pool: str, effective_from: datetime, now: datetime) -> Rate:
        """Deletes a future rate (RateCard.withdrawable)."""

    def open_pools(self, center: str, first: Sequence[Rate], now: datetime, *, new_center: bool) -> list[Rate]:
        """Stores the pools' first rates where a pool has none in force (every one for a new center)."""


class PoolPrices:
    """What the center use cases ask of prices: each new pool's first rate, and pools whose hint
    is the price of their rate in force."""

    def __init__(self, rates: RateStore) -> None:
        self.rates = rates

    def hinted(
        self, center: str, pools: Sequence[Pool], now: datetime, *, new_center: bool = False
    ) -> tuple[Pool, ...]:
        """``pools`` with each one's price hint set to its rate in force at ``now``; a pool with
        none (or any pool of a ``new_center``) keeps its declared price, as its first rate will."""
        cards = {} if new_center else self.rates.cards(center)
        hinted = []
        for pool in pools:
            card = cards.get((center, pool.name))
            rate = card.in_force(now) if card is not None else None
            if rate is None:
                rate = pool_rate(center, pool.name, pool.price_per_accelerator_hour, now)
            price = price_hint(rate)
            hinted.append(pool if price == pool.price_per_accelerator_hour else _with_hint(pool, price))
        return tuple(hinted)

    def open(self, center: str, pools: Sequence[Pool], now: datetime, *, new_center: bool = False) -> list[Rate]:
        """Stores the first rate of each pool that has none in force, from its declared price."""
        if not new_center:
            cards = self.rates.cards(center)
            pools = [p for p in pools if (center, p.name) not in cards or cards[center, p.name].in_force(now) is None]
            if not pools:
                return []  # the common case, read-only: no write transaction
        first = [pool_rate(center, p.name, p.price_per_accelerator_hour, now) for p in pools]
        return self.rates.open_pools(center, first, now, new_center=new_center)


def _with_hint(pool: Pool, price: float) -> Pool:
    return pool.model_copy(update={"price_per_accelerator_hour": price})


@dataclass(frozen=True, slots=True)
class PriceList:
    """A center's rates, each with its standing at ``at``."""

    center: Center
    at: datetime
    rates: list[tuple[Rate, Standing]]


class PricingService:
    def __init__(self, rates: RateStore, centers: CenterService, prices: PoolPrices, clock: Clock) -> None:
        self.rates = rates
        self.centers = centers
        self.prices = prices
        self.clock = clock
        self._checked: datetime | None = None  # the housekeeping has applied what came due until then
        self._applied: set[tuple[str, str, datetime]] = set()  # due rates applied within CLOCK_SKEW of it

    def publish(self, change: RateChange, organization: str | None) -> tuple[Rate, Rate | None]:
        """Publishes a rate for one pool of a center that ``organization`` owns (None: any, a
        platform admin). Returns it and the future rate it replaced, if any."""
        center = self.centers.owned_by(change.center, organization)
        names = [p.name for p in center.pools]
        if change.pool not in names:
            raise NotFound(
                f"center {center.name} has no pool {change.pool!r}; its pools: {', '.join(names) or 'none'}",
                field="pool",
            )
        now = self.clock.now()
        rate, replaced = self.rates.publish(change, now)
        if rate.effective_from <= now:
            self.reprice(center.name)  # placement follows the price people are charged, from now
        return rate, replaced

    def withdraw(self, center: str, pool: str, effective_from: datetime, organization: str | None) -> Rate:
        """Withdraws a rate that has not taken effect yet."""
        self.centers.owned_by(center, organization)
        return self.rates.withdraw(center, pool, effective_from, self.clock.now())

    def price_list(self, center: str, at: datetime | None = None) -> PriceList:
        found = self.centers.get(center)
        moment = at if at is not None else self.clock.now()
        cards = self.rates.cards(center)
        listed = [
            (rate, card.standing(rate, moment))
            for _, card in sorted(cards.items(), key=lambda item: item[0])
            for rate in card.rates
        ]
        return PriceList(found, moment, listed)

    def cards(self, center: str | None = None) -> dict[tuple[str, str], RateCard]:
        """Every pool's rate card (of ``center``, or of every center): what the rating reads."""
        return self.rates.cards(center)

    def reprice(self, center: str) -> bool:
        """Gives pools without a rate their first one, then sets each pool's price hint to its rate
        in force now; True if a hint changed (the scheduler's snapshot is then invalidated)."""
        for _ in range(_RETRIES):
            current = self.centers.get(center)
            now = self.clock.now()
            self.prices.open(center, current.pools, now)
            if self.prices.hinted(center, current.pools, now) == current.pools:
                return False
            try:
                self.centers.set_pools(center, current.pools)  # sets the hints (CenterService.set_pools)
            except StaleVersion:
                continue  # changed meanwhile: look again
            return True
        return False

    def apply_due(self) -> bool:
        """Housekeeping before each scheduling cycle: the price hints of pools whose future rate
        has come due follow it. The first call looks at every center (and gives a first rate to
        pools that have none, as after an upgrade). True if a hint changed."""
        now = self.clock.now()
        if self._checked is None:  # one read of every card, then only the centers that need it
            cards = self.rates.cards()
            names = sorted(c.name for c in self.centers.list() if _out_of_step(c, cards, now))
        else:
            since = self._checked - CLOCK_SKEW
            due = [key for key in self.rates.due(since, now) if key not in self._applied]
            self._applied = {key for key in self._applied if key[2] > since} | set(due)
            names = sorted({center for center, _, _ in due})
        self._checked = now
        changed = False
        for name in names:
            try:
                changed |= self.reprice(name)
            except NotFound:
                continue  # deleted meanwhile
        return changed


def _out_of_step(center: Center, cards: dict[tuple[str, str], RateCard], now: datetime) -> bool:
    """Whether a pool of ``center`` has no rate in force or a hint other than its price."""
    for pool in center.pools:
        card = cards.get((center.name, pool.name))
        rate = card.in_force(now) if card is not None else None
        if rate is None or price_hint(rate) != pool.price_per_accelerator_hour:
            return True
    return False
