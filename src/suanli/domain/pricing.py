"""Prices (rate cards, issue 13): what a center charges for each of its pools, effective-dated.

Money is ``decimal.Decimal`` and never passes through a float. A unit price has at most four
decimal places (``QUANTUM``, 0.0001): prices below one fen (分) are real (0.0125 CNY per CPU-hour),
while amounts the ledger books are quantized to 0.01 CNY by the ledger's own rounding rule.

A ``Rate`` is one pool's prices from a moment on: per accelerator-hour, per CPU-hour and per
GB-hour of memory, in one currency (CNY unless the pool's first rate said otherwise). A pool's
``RateCard`` holds its rates over time; the rate in force at an instant is the latest one that
took effect at or before it. A change applies from its date, never retroactively:

- a new rate may not take effect in the past (``PAST_TOLERANCE`` absorbs the clocks and the
  network between a client's "now" and the server's; such a time is taken as now);
- a rate that is in force (its time has come) is never changed and never deleted; a rate still
  in the future may be corrected (a rate with the same ``effective_from`` replaces it) or
  withdrawn;
- every rate of one pool is in the same currency.

Compute units: usage on different chips is compared and budgeted in one number, **A100-hour
equivalents** (``compute_units``): accelerator-hours x the catalog's relative throughput of the
model / the catalog's throughput of the A100. The throughput factors are the accelerator
catalog's (``suanli.domain.accelerators``: planning figures relative to a V100 on mixed-precision
training, not benchmarks); only their ratio to the A100 matters here. A CPU pool counts its
cores as its accelerators and the catalog states a CPU core's factor (0.05 of a V100), so a
core-hour is 0.05 / 2.2 = 0.0227 A100-hour equivalents: CPU work counts, but little.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.errors import Conflict, InvalidSpec, NotFound

CNY = "CNY"
PLACES = 4  # decimal places of a unit price
QUANTUM = Decimal(1).scaleb(-PLACES)  # 0.0001
MAX_PRICE = Decimal(100_000)  # per unit-hour; as a pool's price hint (limits.MAX_PRICE_PER_ACCELERATOR_HOUR)
ZERO = Decimal(0).quantize(QUANTUM)
PRICE_FIELDS = ("per_accelerator_hour", "per_cpu_hour", "per_gb_hour")
CURRENCY_PATTERN = r"^[A-Z]{3}$"
# A price written as text: plain digits, at most four decimals, at most MAX_PRICE. Text is taken
# only in this form (``amount``), so that the API's schema states exactly what it accepts.
AMOUNT_PATTERN = r"^(?:[0-9]{1,5}(?:\.[0-9]{1,4})?|100000(?:\.0{1,4})?)$"
MAX_AMOUNT_CHARS = 64
_AMOUNT = re.compile(AMOUNT_PATTERN)
PAST_TOLERANCE = timedelta(minutes=1)  # an effective_from this far back still means "now"
REFERENCE_MODEL = "A100"  # compute units are A100-hour equivalents
UNIT_QUANTUM = Decimal("0.0001")  # compute units are rounded to this, half away from zero


class Origin(StrEnum):
    """Where a rate came from."""

    PUBLISHED = "published"  # a center's operator published it (POST /centers/{name}/rates)
    POOL = "pool"  # the pool's declared price, when the pool first appeared (registration, pools, agent)


class Standing(StrEnum):
    """A rate's place in its card, seen from one instant."""

    SUPERSEDED = "superseded"  # a later rate had taken effect by then
    IN_FORCE = "in_force"
    SCHEDULED = "scheduled"  # takes effect after that instant
    WITHDRAWN = "withdrawn"  # a future rate taken back (withdrawn, or replaced by a correction): never applied


def _refuse(field: str, message: str) -> InvalidSpec:
    return InvalidSpec(f"{field}: {message}", field=field)


def amount(value: object, field: str) -> Decimal:
    """A unit price from a Decimal, an int or text ("12.5", "0.0125"), checked and quantized to
    ``QUANTUM``; InvalidSpec naming ``field`` otherwise. A float is refused: it cannot hold every
    price exactly (0.1 is not 1/10), and money never passes through one."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        kind = "a float" if isinstance(value, float) else type(value).__name__
        raise _refuse(field, f'give the price as a decimal number or as text, e.g. "12.5", not {kind}')
    if isinstance(value, str):
        value = _from_text(value, field)
    number = Decimal(value)
    if not number.is_finite():
        raise _refuse(field, "must be a finite number, not NaN or infinity")
    if number < 0:
        raise _refuse(field, f"must not be negative (got {number})")
    if number > MAX_PRICE:
        raise _refuse(field, f"must be at most {MAX_PRICE} per unit-hour")
    quantized = number.quantize(QUANTUM)
    if quantized != number:
        raise _refuse(field, f"{number} has more than {PLACES} decimal places; the smallest step is {QUANTUM}")
    return quantized + ZERO  # + 0: no negative zero


def _from_text(text: str, field: str) -> Decimal:
    if len(text) <= MAX_AMOUNT_CHARS and _AMOUNT.fullmatch(text):
        return Decimal(text)
    # Not in the accepted form: say what is wrong with it, as precisely as the text allows.
    shown = repr(text[:MAX_AMOUNT_CHARS])
    try:
        number = Decimal(text.strip()) if text.isascii() and len(text) <= MAX_AMOUNT_CHARS else None
    except InvalidOperation:
        number = None
    if number is None:
        raise _refuse(field, f"{shown} is not a number; write e.g. 12.5 or 0.0125")
    amount(number, field)  # raises for NaN, a negative, too large, too many places
    raise _refuse(field, f"write {shown} as plain digits with at most {PLACES} decimals, e.g. 12.5")


def utc(moment: datetime, field: str = "effective_from") -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _refuse(field, f"{moment.isoformat()} names no time zone; write e.g. 2027-01-01T00:00:00+08:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the first or last day of the calendar, moved past its end
        raise _refuse(field, f"{moment.isoformat()} is beyond the calendar's end") from None


def currency_code(value: str, field: str = "currency") -> str:
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        raise _refuse(field, f"{value!r} is not a currency code: three capital letters (ISO 4217), e.g. CNY")
    return value


@dataclass(frozen=True, slots=True)
class Rate:
    """One pool's prices from ``effective_from`` (UTC) on, until the pool's next rate."""

    center: str
    pool: str
    effective_from: datetime
    per_accelerator_hour: Decimal  # in a CPU pool, whose accelerators are its cores: per core-hour
    per_cpu_hour: Decimal = ZERO  # per CPU core a job holds beside its accelerators
    per_gb_hour: Decimal = ZERO  # per GB of memory
    currency: str = CNY
    published_at: datetime | None = None
    published_by: str = ""  # the principal; "" for a pool's own price
    origin: Origin = Origin.PUBLISHED

    def __post_init__(self) -> None:
        object.__setattr__(self, "effective_from", utc(self.effective_from))
        for name in PRICE_FIELDS:
            object.__setattr__(self, name, amount(getattr(self, name), name))
        currency_code(self.currency)

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.center, self.pool, self.effective_from)


@dataclass(frozen=True, slots=True)
class RateChange:
    """What an operator asks to publish. A price or currency left out (None) carries over from
    the rate in force at ``effective_from``; ``effective_from`` None means now."""

    center: str
    pool: str
    effective_from: datetime | None = None
    currency: str | None = None
    per_accelerator_hour: Decimal | None = None
    per_cpu_hour: Decimal | None = None
    per_gb_hour: Decimal | None = None
    published_by: str = ""

    def __post_init__(self) -> None:
        if self.effective_from is not None:
            object.__setattr__(self, "effective_from", utc(self.effective_from))
        for name in PRICE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, amount(value, name))
        if self.currency is not None:
            currency_code(self.currency)
        if all(getattr(self, name) is None for name in PRICE_FIELDS):
            raise InvalidSpec(
                "give at least one price: per_accelerator_hour, per_cpu_hour or per_gb_hour",
                field="per_accelerator_hour",
            )


def effective_moment(requested: datetime | None, now: datetime) -> datetime:
    """When a rate asked to take effect at ``requested`` does: now if None or within
    ``PAST_TOLERANCE`` before now; InvalidSpec if further in the past."""
    if requested is None:
        return now
    requested = utc(requested)
    if requested < now - PAST_TOLERANCE:
        raise _refuse(
            "effective_from",
            f"{requested.isoformat()} has already passed (the server's time is {now.isoformat()}); a price "
            "applies from its date on, never retroactively: give a later time, or leave effective_from out for now",
        )
    return max(requested, now)


class RateCard:
    """One pool's rates, oldest first: at most one per ``effective_from``, all in one currency."""

    __slots__ = ("center", "pool", "rates", "_starts")

    def __init__(self, center: str, pool: str, rates: Iterable[Rate] = ()) -> None:
        self.center = center
        self.pool = pool
        self.rates: tuple[Rate, ...] = tuple(sorted(rates, key=lambda r: r.effective_from))
        self._starts = [r.effective_from for r in self.rates]
        if any((r.center, r.pool) != (center, pool) for r in self.rates):
            raise ValueError(f"a rate card holds the rates of one pool ({center}/{pool}) only")
        if len(set(self._starts)) != len(self._starts):
            raise ValueError(f"two rates of {center}/{pool} take effect at the same time")
        if len({r.currency for r in self.rates}) > 1:
            raise ValueError(f"the rates of {center}/{pool} are in more than one currency")

    @property
    def currency(self) -> str | None:
        return self.rates[0].currency if self.rates else None

    def __len__(self) -> int:
        return len(self.rates)

    def in_force(self, at: datetime) -> Rate | None:
        """The latest rate that took effect at or before ``at``; None before the first."""
        index = bisect.bisect_right(self._starts, at)
        return self.rates[index - 1] if index else None

    def segments(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, Rate]]:
        """``[start, end)`` cut where the price changes: (from, to, the rate in force there),
        in order, each non-empty, each next one starting where the last ended. Time before the
        card's first rate has no price and is left out, so the segments cover
        ``[max(start, first effective_from), end)``."""
        if end <= start or not self.rates or self._starts[0] >= end:
            return []
        index = bisect.bisect_right(self._starts, start)
        if index == 0:  # before the first rate: priced from the first one on
            start, index = self._starts[0], 1
        moment, current = start, self.rates[index - 1]
        pieces: list[tuple[datetime, datetime, Rate]] = []
        while index < len(self.rates) and self._starts[index] < end:
            pieces.append((moment, self._starts[index], current))
            moment, current = self._starts[index], self.rates[index]
            index += 1
        pieces.append((moment, end, current))
        return pieces

    def standing(self, rate: Rate, at: datetime) -> Standing:
        if rate.effective_from > at:
            return Standing.SCHEDULED
        return Standing.IN_FORCE if self.in_force(at) == rate else Standing.SUPERSEDED

    def admit(self, change: RateChange, now: datetime) -> tuple[Rate, Rate | None]:
        """The rate ``change`` publishes at ``now``, and the future rate it replaces (one with the
        same ``effective_from``), if any. Conflict if that one is already in force; InvalidSpec for
        another currency than the pool's; InvalidSpec for a time in the past."""
        start = effective_moment(change.effective_from, now)
        currency = change.currency or self.currency or CNY
        if self.currency is not None and currency != self.currency:
            raise Conflict(  # the request is fine; it disagrees with what the pool already has
                f"currency: the prices of {self.center}/{self.pool} are in {self.currency}; give them in it too",
                field="currency",
            )
        previous = self.in_force(start)
        replaced = previous if previous is not None and previous.effective_from == start else None
        if replaced is not None and replaced.effective_from <= now:
            raise Conflict(
                f"the rate of {self.center}/{self.pool} from {start.isoformat()} is in force and can never be "
                "changed; publish a new rate from a later time",
                field="effective_from",
            )

        def price(name: str) -> Decimal:
            given: Decimal | None = getattr(change, name)
            if given is not None:
                return given
            return getattr(previous, name) if previous is not None else ZERO

        rate = Rate(
            center=self.center,
            pool=self.pool,
            effective_from=start,
            per_accelerator_hour=price("per_accelerator_hour"),
            per_cpu_hour=price("per_cpu_hour"),
            per_gb_hour=price("per_gb_hour"),
            currency=currency,
            published_at=now,
            published_by=change.published_by,
        )
        return rate, replaced

    def withdrawable(self, effective_from: datetime, now: datetime) -> Rate:
        """The future rate from ``effective_from``, which may be withdrawn; NotFound if there is
        none, Conflict if it is in force."""
        start = utc(effective_from)
        rate = self.in_force(start)
        if rate is None or rate.effective_from != start:
            raise NotFound(
                f"{self.center}/{self.pool} has no rate from {start.isoformat()}; `suanli price list "
                f"{self.center} --all` shows its rates"
            )
        if rate.effective_from <= now:
            raise Conflict(
                f"the rate of {self.center}/{self.pool} from {start.isoformat()} is in force and can never be "
                "withdrawn; publish a new rate from a later time",
                field="effective_from",
            )
        return rate


def pool_rate(center: str, pool: str, price: float, now: datetime) -> Rate:
    """The first rate of a pool that appears with a declared ``price`` (a float, the scheduler's
    hint): that price per accelerator-hour, rounded half away from zero (四舍五入, the ledger's
    rule) to ``QUANTUM``, nothing for CPUs and memory, from ``now``. ``repr`` gives the shortest
    text that reads back as the float: the number a person wrote in the center's file."""
    declared = Decimal(repr(float(price))).quantize(QUANTUM, ROUND_HALF_UP)
    return Rate(center, pool, now, declared, published_at=now, origin=Origin.POOL)


def price_hint(rate: Rate) -> float:
    """The pool's price hint for the scheduler's price score (a float, never money)."""
    return float(rate.per_accelerator_hour)


def compute_units(model: str, accelerator_hours: Decimal | int, catalog: AcceleratorCatalog) -> Decimal:
    """A100-hour equivalents of ``accelerator_hours`` on ``model``: hours x the catalog's
    throughput of the model / its throughput of the A100, rounded half away from zero to 0.0001.

    ``model`` is any name the catalog resolves (InvalidSpec otherwise); for a CPU pool the hours
    are core-hours. Sum unrounded products (or many records' hours per model) before rounding
    where the totals must agree to the last digit."""
    if isinstance(accelerator_hours, bool) or not isinstance(accelerator_hours, Decimal | int):
        raise InvalidSpec("accelerator_hours must be a Decimal or an int", field="accelerator_hours")
    hours = Decimal(accelerator_hours)
    if not hours.is_finite() or hours < 0:
        raise InvalidSpec(f"accelerator_hours must be a finite number >= 0, not {hours}", field="accelerator_hours")
    factor = _factor(catalog.resolve(model).throughput) / _factor(catalog.resolve(REFERENCE_MODEL).throughput)
    return (hours * factor).quantize(UNIT_QUANTUM, ROUND_HALF_UP)


def _factor(throughput: float) -> Decimal:
    return Decimal(repr(throughput))  # the catalog's figure as written (2.2, not 2.2000000000000002)
