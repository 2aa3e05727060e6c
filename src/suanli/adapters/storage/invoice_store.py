"""``SqlInvoiceStore``: invoices' and statements' lines, read from the ledger (read-only).

Each is two GROUP BY queries: the entries of the period on the accounts concerned, summed per
transaction (so that a transaction's usage counts once however many of its entries are read),
then per (center, pool, accelerator) of the usage record the transaction charges; and the
change of the account over the period, which the lines must add up to (domain.invoices).

A reversal (a transaction that ``reverses`` another) carries no usage record of its own: it
counts in the line of the transaction it undoes, its amounts negative as booked and its hours
negative too. An entry with no usage record at all (none is booked yet) still counts, in a line
of its own with empty names, so that the totals always reconcile.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import aliased

from suanli.adapters.storage import rows
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import ledger_entries, ledger_transactions, usage_records
from suanli.domain.accelerators import CPU
from suanli.domain.invoices import InvoiceLine, Period, StatementLine, hours
from suanli.domain.ledger import FEE, payable, receivable
from suanli.domain.money import ZERO

_original = aliased(ledger_transactions)
_entries, _transactions, _usage = ledger_entries.c, ledger_transactions.c, usage_records.c


class SqlInvoiceStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def invoice_lines(self, organization: str, period: Period) -> tuple[list[InvoiceLine], Decimal]:
        """The lines of ``organization``'s invoice, and the change of its receivable account."""
        account = str(receivable(organization))
        voucher = _entries.account.like("voucher:%")
        per_transaction = _per_transaction(
            period,
            or_(_entries.account == account, voucher),
            due=_sum_if(_entries.account == account),
            covered=_sum_if(voucher),
        )
        ours = or_(per_transaction.c.due != 0, _usage.organization == organization)
        statement = _per_line(per_transaction, ours, (_usage.center, _usage.pool, _usage.accelerator), "due", "covered")
        with self._store._read() as connection:
            lines = [
                InvoiceLine(
                    center=row.center or "",
                    pool=row.pool or "",
                    accelerator=row.accelerator or "",
                    accelerator_hours=hours(row.seconds / 3600 if row.seconds else 0),
                    due=row.due if row.due is not None else ZERO,
                    covered=row.covered if row.covered is not None else ZERO,
                )
                for row in connection.execute(statement)
            ]
            return lines, _change(connection, account, period)

    def statement_lines(self, owner: str, period: Period) -> tuple[list[StatementLine], Decimal]:
        """The lines of ``owner``'s statement, and the change of its payable account."""
        account = str(payable(owner))
        # The platform's fee entries of this owner's charges only, not every fee of the period:
        # the charges with an entry on its account, and those of usage on its centers (a charge
        # whose fee took it all, a fen, has no entry on the owner's account).
        earning = select(_entries.transaction_id).where(_entries.account == account, _in(period))
        supplied = (
            select(ledger_transactions.c.id)
            .join(usage_records, usage_records.c.id == ledger_transactions.c.usage_id)
            .where(
                usage_records.c.center_organization == owner,
                usage_records.c.interval_end >= rows.utc(period.start),
                usage_records.c.interval_end < rows.utc(period.end),
            )
        )
        fee = str(FEE)
        theirs = and_(_entries.account == fee, _entries.transaction_id.in_(earning.union(supplied)))
        per_transaction = _per_transaction(
            period,
            or_(_entries.account == account, theirs),
            earned=_sum_if(_entries.account == account),
            fee=_sum_if(_entries.account == fee),
        )
        ours = or_(per_transaction.c.earned != 0, _usage.center_organization == owner)
        statement = _per_line(per_transaction, ours, (_usage.center, _usage.pool), "earned", "fee")
        with self._store._read() as connection:
            lines = [
                StatementLine(
                    center=row.center or "",
                    pool=row.pool or "",
                    accelerator_hours=hours(row.seconds / 3600 if row.seconds else 0),
                    net=-(row.earned if row.earned is not None else ZERO),
                    fee=-(row.fee if row.fee is not None else ZERO),
                )
                for row in connection.execute(statement)
            ]
            return lines, _change(connection, account, period)


def _sum_if(condition: Any) -> Any:
    # the amount column's type carries through case and sum: SQL adds integers of fen, exactly
    return func.sum(case((condition, _entries.amount), else_=literal(ZERO, ledger_entries.c.amount.type)))


def _in(period: Period) -> Any:
    return and_(_entries.at >= rows.utc(period.start), _entries.at < rows.utc(period.end))


def _per_transaction(period: Period, accounts: Any, **sums: Any) -> Any:
    """Per transaction with entries on ``accounts`` in the period: its usage record (a
    reversal's: its original's), +1 or -1 (a reversal), and ``sums``."""
    usage_id = func.coalesce(_transactions.usage_id, _original.c.usage_id).label("usage_id")
    sign = case((_transactions.reverses.is_(None), 1), else_=-1).label("sign")
    joined = ledger_entries.join(ledger_transactions, _transactions.id == _entries.transaction_id).outerjoin(
        _original, _original.c.key == _transactions.reverses
    )
    return (
        select(_transactions.id, usage_id, sign, *(value.label(name) for name, value in sums.items()))
        .select_from(joined)
        .where(_in(period), accounts)
        .group_by(_transactions.id, usage_id, sign)
        .subquery()
    )


def _per_line(per_transaction: Any, ours: Any, keys: tuple[Any, ...], *amounts: str) -> Any:
    held = case((_usage.accelerator == CPU, _usage.cpus), else_=_usage.accelerators)
    seconds = func.sum(per_transaction.c.sign * cast(held, Float) * _usage.seconds).label("seconds")
    totals = [func.sum(per_transaction.c[name]).label(name) for name in amounts]
    return (
        select(*keys, seconds, *totals)
        .select_from(per_transaction.outerjoin(usage_records, _usage.id == per_transaction.c.usage_id))
        .where(ours)
        .group_by(*keys)
    )


def _change(connection: Any, account: str, period: Period) -> Decimal:
    total = connection.execute(
        select(func.sum(_entries.amount)).where(_entries.account == account, _in(period))
    ).scalar_one()
    return Decimal(total) if total is not None else ZERO
