"""domain.invoices: lines add up to the totals, the totals must reconcile with the ledger, periods
are calendar months in UTC, and CSV says the same numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.errors import InvalidSpec
from suanli.domain.invoices import (
    InvoiceLine,
    StatementLine,
    Unreconciled,
    invoice,
    invoice_csv,
    month_of,
    parse_month,
    statement,
    statement_csv,
)
from suanli.domain.ledger import FEE, charge, payable, receivable, voucher

JAN = parse_month("2027-01")
fen = st.integers(min_value=1, max_value=10**9).map(lambda n: Decimal(n).scaleb(-2))
shares = st.integers(min_value=0, max_value=100).map(lambda n: Decimal(n) / 100)
names = st.sampled_from(["qd-ai", "sh-ai"])
charges = st.lists(st.tuples(names, fen, shares, shares), max_size=30)


def test_months_are_utc_calendar_months() -> None:
    assert (JAN.start, JAN.end) == (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    assert parse_month("2027-12").end == datetime(2028, 1, 1, tzinfo=UTC)
    assert month_of(datetime(2027, 1, 31, 23, 59, tzinfo=UTC)).label == "2027-01"
    for bad in ("2027-13", "2027-1", "27-01", "January"):
        with pytest.raises(InvalidSpec, match="YYYY-MM"):
            parse_month(bad)


@given(charges)
def test_the_lines_of_charges_reconcile_with_the_ledger(made: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
    """Charges booked as the rater books them (a fee, a voucher's share), grouped into lines as
    the store groups them: the lines add up to the totals, and the totals to the balances."""
    at = datetime(2027, 1, 5, tzinfo=UTC)
    lines: dict[str, list[Decimal]] = {}
    earned: dict[str, list[Decimal]] = {}
    receivable_change = payable_change = Decimal("0.00")
    for i, (center, amount, fee, share) in enumerate(made):
        covered = ("sh-2027", (amount * share).quantize(Decimal("0.01")))
        t = charge(
            f"usage:{i}", at, "", organization="acme", center_owner="qd", amount=amount, fee_rate=fee, covered=covered
        )
        assert t is not None
        by = {e.account: e.amount for e in t.entries}
        due, cov = by.get(receivable("acme"), Decimal(0)), by.get(voucher("sh-2027"), Decimal(0))
        line = lines.setdefault(center, [Decimal(0), Decimal(0)])
        line[0] += due
        line[1] += cov
        got = earned.setdefault(center, [Decimal(0), Decimal(0)])
        got[0] -= by.get(payable("qd"), Decimal(0))
        got[1] -= by.get(FEE, Decimal(0))
        receivable_change += due
        payable_change += by.get(payable("qd"), Decimal(0))
    found = invoice(
        "acme", JAN, [InvoiceLine(c, "p", "A100", Decimal(1), d, v) for c, (d, v) in lines.items()], receivable_change
    )
    assert found.total_due == receivable_change
    assert found.total_charged == sum(amount for _, amount, _, _ in made)
    assert found.total_charged == found.total_due + found.total_covered
    earnings = statement(
        "qd", JAN, [StatementLine(c, "p", Decimal(1), n, f) for c, (n, f) in earned.items()], payable_change
    )
    assert earnings.net == -payable_change and earnings.gross == found.total_charged
    rows = list(csv.DictReader(io.StringIO(invoice_csv(found))))
    assert sum(Decimal(r["due"]) for r in rows[:-1]) == Decimal(rows[-1]["due"]) == found.total_due
    rows = list(csv.DictReader(io.StringIO(statement_csv(earnings))))
    assert Decimal(rows[-1]["net"]) == earnings.net and Decimal(rows[-1]["gross"]) == earnings.gross


def test_totals_that_differ_from_the_ledger_are_refused() -> None:
    line = InvoiceLine("qd-ai", "a100", "A100", Decimal(2), Decimal("10.00"))
    with pytest.raises(Unreconciled, match="receivable:acme changed by 9.99"):
        invoice("acme", JAN, [line], Decimal("9.99"))
    with pytest.raises(Unreconciled, match="payable:qd"):
        statement(
            "qd", JAN, [StatementLine("qd-ai", "a100", Decimal(2), Decimal("9.50"), Decimal("0.50"))], Decimal("9.50")
        )


def test_csv_writes_amounts_as_plain_decimals() -> None:
    found = invoice("acme", JAN, [InvoiceLine("qd-ai", "a100", "A100", Decimal(2), Decimal("0E-2"))], Decimal(0))
    text = invoice_csv(found)
    assert "E-" not in text and text.splitlines()[0].startswith("organization,period,center")
