"""Invoices and statements: what an organization owes for a period, and what a center owner
earned in it, read from the ledger (docs/metering.md#invoices-and-statements).

An ``Invoice`` is one organization's charges over a period [start, end) (a calendar month in UTC
by default), in lines per (center, pool, accelerator model): accelerator-hours, what was charged,
what voucher programs covered and what is left due. A ``Statement`` is one center owner's
earnings: per (center, pool), the gross charged, the platform's fee and the net earned.

Both must reconcile with the ledger, or they are not issued: an invoice's total due is the
change of ``receivable:ORG`` over the period, a statement's net the change of ``payable:OWNER``
with its sign turned (a credit is what the platform owes). ``Unreconciled`` is a bug, never a
user's mistake.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from suanli.domain.errors import InvalidSpec
from suanli.domain.money import CURRENCY, ZERO

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
HOURS = Decimal("0.0001")  # accelerator-hours are shown to the 0.36 s


class Unreconciled(AssertionError):
    """An invoice or statement whose totals differ from the ledger's balances: a bug."""


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # included
    end: datetime  # excluded
    label: str  # "2027-01", or "START/END" for any other period

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidSpec(f"the period {self.label} ends before it starts", field="until")


def month(year: int, number: int) -> Period:
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end, f"{year:04d}-{number:02d}")


def month_of(moment: datetime) -> Period:
    """The calendar month (UTC) that holds ``moment``."""
    moment = moment.astimezone(UTC)
    return month(moment.year, moment.month)


def parse_month(text: str, field: str = "period") -> Period:
    """A calendar month in UTC, written YYYY-MM (2027-01)."""
    if not re.fullmatch(PERIOD_PATTERN, text):
        raise InvalidSpec(f"{text[:40]!r} is not a month written YYYY-MM, e.g. 2027-01", field=field)
    year, number = text.split("-")
    return month(int(year), int(number))


def between(start: datetime, end: datetime) -> Period:
    return Period(start, end, f"{start.isoformat()}/{end.isoformat()}")


def hours(value: Decimal | float | int | None) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else (value or 0)).quantize(HOURS)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    center: str
    pool: str
    accelerator: str
    accelerator_hours: Decimal  # core-hours on a CPU pool
    due: Decimal  # what the organization owes (receivable)
    covered: Decimal = ZERO  # what voucher programs pay of it

    @property
    def charged(self) -> Decimal:
        return self.due + self.covered


@dataclass(frozen=True, slots=True)
class Invoice:
    organization: str
    period: Period
    lines: tuple[InvoiceLine, ...]
    currency: str = CURRENCY

    @property
    def total_charged(self) -> Decimal:
        return sum((line.charged for line in self.lines), ZERO)

    @property
    def total_covered(self) -> Decimal:
        return sum((line.covered for line in self.lines), ZERO)

    @property
    def total_due(self) -> Decimal:
        return sum((line.due for line in self.lines), ZERO)

    @property
    def accelerator_hours(self) -> Decimal:
        return sum((line.accelerator_hours for line in self.lines), Decimal(0)).quantize(HOURS)


def invoice(organization: str, period: Period, lines: Iterable[InvoiceLine], receivable_change: Decimal) -> Invoice:
    """The invoice of these lines, checked against the change of ``receivable:ORG`` over the
    period (``Unreconciled`` if they differ). Lines are sorted; empty lines are dropped."""
    kept = tuple(sorted((line for line in lines if line.due or line.covered or line.accelerator_hours), key=_key))
    found = Invoice(organization, period, kept)
    if found.total_due != receivable_change:
        raise Unreconciled(
            f"the invoice of {organization} for {period.label} is due {found.total_due}, but receivable:"
            f"{organization} changed by {receivable_change}"
        )
    return found


@dataclass(frozen=True, slots=True)
class StatementLine:
    center: str
    pool: str
    accelerator_hours: Decimal
    net: Decimal  # what the owner earned (minus its payable's change)
    fee: Decimal  # the platform's fee of those charges

    @property
    def gross(self) -> Decimal:
        return self.net + self.fee


@dataclass(frozen=True, slots=True)
class Statement:
    owner: str
    period: Period
    lines: tuple[StatementLine, ...]
    currency: str = CURRENCY

    @property
    def gross(self) -> Decimal:
        return sum((line.gross for line in self.lines), ZERO)

    @property
    def fee(self) -> Decimal:
        return sum((line.fee for line in self.lines), ZERO)

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), ZERO)


def statement(owner: str, period: Period, lines: Iterable[StatementLine], payable_change: Decimal) -> Statement:
    """The statement of these lines, checked against the change of ``payable:OWNER`` over the
    period: its net earned is that change with the sign turned (``Unreconciled`` if not)."""
    kept = tuple(
        sorted(
            (line for line in lines if line.net or line.fee or line.accelerator_hours), key=lambda x: (x.center, x.pool)
        )
    )
    found = Statement(owner, period, kept)
    if found.net != -payable_change:
        raise Unreconciled(
            f"the statement of {owner} for {period.label} nets {found.net}, but payable:{owner} changed by "
            f"{payable_change}"
        )
    return found


def _key(line: InvoiceLine) -> tuple[str, str, str]:
    return (line.center, line.pool, line.accelerator)


# -- CSV: a header row, one row per line, a last row of totals; amounts as plain decimal text ------

INVOICE_COLUMNS = (
    *("organization", "period", "center", "pool", "accelerator", "accelerator_hours"),
    *("charged", "covered", "due", "currency"),
)
STATEMENT_COLUMNS = ("owner", "period", "center", "pool", "accelerator_hours", "gross", "fee", "net", "currency")
TOTAL = "TOTAL"


def invoice_csv(found: Invoice) -> str:
    rows: list[tuple[object, ...]] = [INVOICE_COLUMNS]
    who = (found.organization, found.period.label)
    for line in found.lines:
        amounts = (line.accelerator_hours, line.charged, line.covered, line.due, found.currency)
        rows.append((*who, line.center, line.pool, line.accelerator, *amounts))
    totals = (found.accelerator_hours, found.total_charged, found.total_covered, found.total_due, found.currency)
    rows.append((*who, TOTAL, "", "", *totals))
    return _csv(rows)


def statement_csv(found: Statement) -> str:
    rows: list[tuple[object, ...]] = [STATEMENT_COLUMNS]
    who = (found.owner, found.period.label)
    for line in found.lines:
        rows.append(
            (*who, line.center, line.pool, line.accelerator_hours, line.gross, line.fee, line.net, found.currency)
        )
    total_hours = sum((line.accelerator_hours for line in found.lines), Decimal(0)).quantize(HOURS)
    rows.append((*who, TOTAL, "", total_hours, found.gross, found.fee, found.net, found.currency))
    return _csv(rows)


def _csv(rows: list[tuple[object, ...]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([[text(value) for value in row] for row in rows])
    return buffer.getvalue()


def text(value: object) -> str:
    """A value as CSV or JSON text: a Decimal plainly (0.00, never 0E-2 or 1E+2)."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)
