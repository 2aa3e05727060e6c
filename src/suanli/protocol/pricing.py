"""The wire format of prices (rate cards): what POST /centers/{name}/rates takes and what the
rate routes answer.

Amounts are exact decimals: a request may write them as JSON strings ("12.5", "0.0125") or
numbers, and the server reads a number from the JSON text itself, never through a float
(routes/pricing.py); answers write them as strings with four decimals ("12.5000"), which the SDK
reads back as ``Decimal``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from suanli.domain.centers import NAME_PATTERN
from suanli.domain.errors import InvalidSpec
from suanli.domain.limits import DEADLINE_PATTERN, EARLIEST_DEADLINE_YEAR, LATEST_DEADLINE_YEAR
from suanli.domain.pricing import (
    AMOUNT_PATTERN,
    CURRENCY_PATTERN,
    MAX_PRICE,
    PRICE_FIELDS,
    Origin,
    Rate,
    RateChange,
    Standing,
    amount,
    currency_code,
)


def _amount(value: Any) -> Decimal:
    try:
        return amount(value, "price")
    except InvalidSpec as error:
        raise PydanticCustomError("price", error.message.removeprefix("price: ")) from None


def _currency(value: Any) -> str:
    try:
        return currency_code(value)
    except InvalidSpec as error:
        raise PydanticCustomError("currency", error.message.removeprefix("currency: ")) from None


def _moment(value: Any) -> Any:
    # Lax pydantic would read a number as seconds since 1970; a time here is written as a time.
    if not isinstance(value, str | datetime):
        raise PydanticCustomError(
            "moment",
            "give a time with its zone (RFC 3339), e.g. 2027-01-01T00:00:00+08:00, not {given}",
            {"given": repr(value)},
        )
    return value


def _aware_and_in_range(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("moment", "give the time with its zone, e.g. 2027-01-01T00:00:00+08:00")
    if not EARLIEST_DEADLINE_YEAR <= value.year <= LATEST_DEADLINE_YEAR:
        raise PydanticCustomError(
            "moment", f"a price takes effect in the years {EARLIEST_DEADLINE_YEAR} to {LATEST_DEADLINE_YEAR}"
        )
    return value


# Each field may be left out (None) but not given as null: its schema is the value's alone, so
# that what the schema allows is what the server takes.
Amount = Annotated[
    Decimal | None,
    PlainValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "number", "minimum": 0, "maximum": int(MAX_PRICE), "multipleOf": 0.0001},
            ],
            "description": "a price with at most 4 decimal places, as text (exact) or a number",
        }
    ),
]
# In the years as written (in the time's own zone), as a job's deadline; the pattern says so.
Moment = Annotated[
    datetime | None,
    BeforeValidator(_moment),
    AfterValidator(_aware_and_in_range),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DEADLINE_PATTERN}),
]
Currency = Annotated[
    str | None, PlainValidator(_currency), WithJsonSchema({"type": "string", "pattern": CURRENCY_PATTERN})
]


class RateIn(BaseModel):
    """A rate to publish for one pool. A price or the currency left out carries over from the
    pool's rate in force at ``effective_from`` (nothing for a price it never had); at least one
    price is given."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"anyOf": [{"required": [name]} for name in PRICE_FIELDS]}
    )

    pool: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN, description="one of the center's pools")
    effective_from: Moment = Field(
        default=None, description="when it takes effect (RFC 3339 with a zone), not in the past; left out: now"
    )
    currency: Currency = Field(default=None, description="ISO 4217 code, e.g. CNY (the pool's, and CNY at first)")
    per_accelerator_hour: Amount = Field(default=None, description="per accelerator-hour (a CPU pool: core-hour)")
    per_cpu_hour: Amount = Field(default=None, description="per CPU core-hour a job holds beside accelerators")
    per_gb_hour: Amount = Field(default=None, description="per GB-hour of memory")

    def to_change(self, center: str, published_by: str) -> RateChange:
        return RateChange(
            center=center,
            pool=self.pool,
            effective_from=self.effective_from,
            currency=self.currency,
            per_accelerator_hour=self.per_accelerator_hour,
            per_cpu_hour=self.per_cpu_hour,
            per_gb_hour=self.per_gb_hour,
            published_by=published_by,
        )


class RateOut(BaseModel):
    center: str
    pool: str
    accelerator: str | None = Field(default=None, description="the pool's accelerator; null: the pool is gone")
    effective_from: datetime
    currency: str
    per_accelerator_hour: Decimal = Field(description='as text with 4 decimals, e.g. "12.5000"')
    per_cpu_hour: Decimal
    per_gb_hour: Decimal
    standing: Standing = Field(
        description="at the time asked about: in_force, scheduled (later), superseded, or withdrawn (never applied)"
    )
    origin: Origin = Field(description="published by an operator, or the pool's declared price when it appeared")
    published_at: datetime | None = None
    published_by: str = ""

    @classmethod
    def from_rate(cls, rate: Rate, standing: Standing, accelerator: str | None = None) -> RateOut:
        return cls(
            center=rate.center,
            pool=rate.pool,
            accelerator=accelerator,
            effective_from=rate.effective_from,
            currency=rate.currency,
            per_accelerator_hour=rate.per_accelerator_hour,
            per_cpu_hour=rate.per_cpu_hour,
            per_gb_hour=rate.per_gb_hour,
            standing=standing,
            origin=rate.origin,
            published_at=rate.published_at,
            published_by=rate.published_by,
        )


class RatePublishedOut(RateOut):
    replaced: RateOut | None = Field(default=None, description="the future rate this one corrected, if any")


class RateListOut(BaseModel):
    center: str
    at: datetime = Field(description="the time each rate's standing is seen from")
    rates: list[RateOut] = Field(description="every rate of the center's pools, by pool and time")
