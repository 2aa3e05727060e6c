"""``SqlLedgerStore``: the ledger and the rater's reading of the usage records, on SQLAlchemy Core.

Booking is idempotent: a transaction whose key is booked already is skipped (ON CONFLICT DO
NOTHING on the unique key, on SQLite and PostgreSQL alike), and only the transactions it did
write get entries. Two raters that read the same records at once (two server processes on
PostgreSQL) thus book each charge once: the second waits on the first's unique-key lock, then
finds the keys taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from suanli.adapters.storage import rows
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import ledger_entries, ledger_transactions, rating_progress, usage_records
from suanli.adapters.storage.usage_rows import record_from_row
from suanli.domain.ledger import Account, Entry, Transaction
from suanli.domain.money import ZERO
from suanli.domain.usage import UsageRecord

USAGE_PROGRESS = "usage"


class SqlLedgerStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._insert = postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert

    def unrated_usage(self, limit: int, recorded_before: datetime) -> list[UsageRecord]:
        """The next usage records the rater has not passed yet, oldest first, of those written
        before ``recorded_before``."""
        passed = select(rating_progress.c.last_usage_id).where(rating_progress.c.name == USAGE_PROGRESS)
        statement = (
            select(usage_records)
            .where(
                usage_records.c.id > func.coalesce(passed.scalar_subquery(), 0),
                usage_records.c.recorded_at < rows.utc(recorded_before),
            )
            .order_by(usage_records.c.id)
            .limit(limit)
        )
        with self._store._read() as connection:
            return [record_from_row(row) for row in connection.execute(statement)]

    def book(
        self, transactions: Sequence[tuple[Transaction, int | None]], now: datetime, *, usage_read_to: int | None = None
    ) -> int:
        """Books each (transaction, the usage record it charges or None) whose key is new, and,
        given ``usage_read_to``, moves the rater past the usage records up to that id, in one
        transaction. Returns how many it booked."""
        booked = 0
        with self._store._write() as connection:
            if transactions:
                statement = (
                    self._insert(ledger_transactions)
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(ledger_transactions.c.id, ledger_transactions.c.key)
                )
                values = [_transaction_values(t, usage_id, now) for t, usage_id in transactions]
                written = {row.key: row.id for row in connection.execute(statement, values)}
                entries = [
                    {
                        "transaction_id": written[t.key],
                        "account": str(e.account),
                        "amount": e.amount,
                        "at": rows.utc(t.at),
                    }
                    for t, _ in transactions
                    if t.key in written
                    for e in t.entries
                ]
                if entries:
                    connection.execute(ledger_entries.insert(), entries)
                booked = len(written)
            if usage_read_to is not None:
                self._advance(connection, usage_read_to)
        return booked

    def _advance(self, connection: Any, usage_id: int) -> None:
        moved = connection.execute(
            update(rating_progress)
            .where(rating_progress.c.name == USAGE_PROGRESS, rating_progress.c.last_usage_id < usage_id)
            .values(last_usage_id=usage_id)
        )
        if moved.rowcount == 0:  # no row yet (or already further: then this insert is skipped too)
            connection.execute(
                self._insert(rating_progress)
                .values(name=USAGE_PROGRESS, last_usage_id=usage_id)
                .on_conflict_do_nothing(index_elements=["name"])
            )

    def balances(self, accounts: Iterable[str] | None = None, *, until: datetime | None = None) -> dict[str, Decimal]:
        """Each account's balance (the sum of its entries; debits positive), of ``accounts`` or
        of every account, over the entries before ``until`` (default: all)."""
        statement = select(ledger_entries.c.account, func.sum(ledger_entries.c.amount).label("total")).group_by(
            ledger_entries.c.account
        )
        if accounts is not None:
            statement = statement.where(ledger_entries.c.account.in_(list(accounts)))
        if until is not None:
            statement = statement.where(ledger_entries.c.at < rows.utc(until))
        with self._store._read() as connection:
            # the sum keeps the column's type: SQL adds the integers of fen, exactly, and they come
            # back as Decimals of yuan
            return {row.account: row.total for row in connection.execute(statement)}

    def transactions(self, keys: Iterable[str]) -> list[Transaction]:
        """The booked transactions with these keys, with their entries."""
        wanted = list(keys)
        statement = (
            select(ledger_transactions, ledger_entries.c.account, ledger_entries.c.amount)
            .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
            .where(ledger_transactions.c.key.in_(wanted))
            .order_by(ledger_transactions.c.id, ledger_entries.c.account)
        )
        found: dict[str, tuple[Any, list[Entry]]] = {}
        with self._store._read() as connection:
            for row in connection.execute(statement):
                found.setdefault(row.key, (row, []))[1].append(Entry(Account.parse(row.account), row.amount))
        return [Transaction(r.key, r.at, r.memo, tuple(e), r.reverses) for r, e in found.values()]

    def total_booked(self) -> Decimal:
        """The sum of every entry: zero, always (each transaction balances)."""
        with self._store._read() as connection:
            total = connection.execute(select(func.sum(ledger_entries.c.amount))).scalar_one()
        return total if total is not None else ZERO


def _transaction_values(transaction: Transaction, usage_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "key": transaction.key,
        "at": rows.utc(transaction.at),
        "memo": transaction.memo,
        "reverses": transaction.reverses,
        "usage_id": usage_id,
        "booked_at": rows.utc(now),
    }
