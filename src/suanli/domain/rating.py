"""Rating: what a usage record costs under its pool's rate card, and the ledger transaction
that books it.

The cost is exact (``Decimal``, no rounding) over each stretch of the record's interval with
one rate in force (``RateCard.segments``): a price change in the middle of a record splits it,
and each part pays its own price. Per stretch, hours x (accelerators x the accelerator-hour
price + CPU cores x the CPU-hour price + GB of memory x the GB-hour price); in a CPU pool the
cores are what the accelerator-hour price is for (a core-hour), with memory on top. The ledger
rounds the total once, to the fen (``ledger.charge``). Time before a pool's first rate has no
price (there is none to apply; a pool gets a rate the moment it is declared).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache

from suanli.domain.accelerators import CPU
from suanli.domain.ledger import Transaction, charge
from suanli.domain.pricing import RateCard
from suanli.domain.usage import UsageRecord

_SECONDS_PER_HOUR = Decimal(3600)


def seconds(span: timedelta) -> Decimal:
    """A time span in seconds, exactly to the microsecond (a float would drift)."""
    return Decimal(span.days * 86_400 + span.seconds) + Decimal(span.microseconds).scaleb(-6)


@lru_cache(maxsize=1024)
def _exact(number: float) -> Decimal:
    """A float as the number written (``repr``: 0.1, not its binary tail), cached: a network has
    few memory sizes, and rating sees millions of records."""
    return Decimal(repr(number))


def cost(record: UsageRecord, card: RateCard) -> Decimal:
    """What ``record`` costs under ``card``: exact but for one division by 3,600 at the end
    (28 significant digits), far below a fen."""
    memory = _exact(record.memory_gb)
    price_seconds = Decimal(0)  # sum of seconds x price per hour: exact
    for start, end, rate in card.segments(record.interval_start, record.interval_end):
        if record.accelerator == CPU:
            per_hour = record.cpus * rate.per_accelerator_hour
        else:
            per_hour = record.accelerators * rate.per_accelerator_hour + record.cpus * rate.per_cpu_hour
        price_seconds += seconds(end - start) * (per_hour + memory * rate.per_gb_hour)
    return price_seconds / _SECONDS_PER_HOUR


def usage_key(record_id: int) -> str:
    return f"usage:{record_id}"


def charge_for(record: UsageRecord, card: RateCard, fee_rate: Decimal) -> Transaction | None:
    """The ledger transaction of one stored usage record (None when it costs less than half a
    fen): the job's organization owes it, the center's owner earns it less the platform's fee."""
    assert record.id is not None, "only a stored record is charged: its id is the charge's key"
    return charge(
        usage_key(record.id),
        record.interval_end,
        # the interval is the usage record's, which the key names: no time formatting per charge
        f"job {record.job_id} attempt {record.attempt} on {record.center}/{record.pool} ({record.reason})",
        organization=record.organization,
        center_owner=record.center_organization,
        amount=cost(record, card),
        fee_rate=fee_rate,
    )
