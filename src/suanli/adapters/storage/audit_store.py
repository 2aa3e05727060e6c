"""``SqlAuditStore``: the AuditStore port (the hash-chained audit log) on SQLAlchemy Core.

Appending reads the last entry and inserts the next ones in one write transaction that every
appender, in every server process, takes in turn: on SQLite the store's writer (its in-process
lock and BEGIN IMMEDIATE, which excludes other processes' writers); on PostgreSQL a lock on the
table in EXCLUSIVE mode, which queues other appenders but lets readers (and verify) go on. The
primary key on ``sequence`` is the backstop: two rows can never share a number. There is no
update and no delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import func, insert, select, text

from suanli.adapters.storage import rows
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import audit_log
from suanli.domain.audit import AuditEntry, AuditRecord, seal
from suanli.domain.errors import InvalidSpec
from suanli.services.ports import AuditFilter, AuditPage

_FIELDS = [field.name for field in fields(AuditEntry)]  # the columns are named as the fields
_COLUMNS = [audit_log.c[name] for name in _FIELDS]


def entry_from_row(row: Any) -> AuditEntry:
    return AuditEntry(*row)


def entry_values(entry: AuditEntry) -> dict[str, Any]:
    values = {name: getattr(entry, name) for name in _FIELDS}
    values["at"] = rows.utc(entry.at)
    return values


class SqlAuditStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    def append(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        if not records:
            return []
        last = select(audit_log.c.sequence, audit_log.c.hash).order_by(audit_log.c.sequence.desc()).limit(1)
        with self._store._write() as connection:
            if self._postgres:
                # Taken before the read below, whose snapshot then holds every committed append.
                connection.execute(text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
            row = connection.execute(last).first()
            entries = seal(records, (row.sequence, row.hash) if row is not None else None)
            connection.execute(insert(audit_log), [entry_values(e) for e in entries])
        return entries

    def list_entries(self, filter: AuditFilter, *, before: int | None, limit: int) -> AuditPage:
        if limit < 1:
            raise InvalidSpec("limit must be at least 1", field="limit")
        statement = select(*_COLUMNS).order_by(audit_log.c.sequence.desc()).limit(limit + 1)
        if before is not None:
            statement = statement.where(audit_log.c.sequence < before)
        if filter.actor is not None:
            statement = statement.where(audit_log.c.actor == filter.actor)
        if filter.action_prefix:
            # substr, not LIKE: LIKE ignores case on SQLite and not on PostgreSQL.
            prefix = filter.action_prefix
            statement = statement.where(func.substr(audit_log.c.action, 1, len(prefix)) == prefix)
        if filter.result is not None:
            statement = statement.where(audit_log.c.result == filter.result)
        if filter.organization is not None:
            statement = statement.where(audit_log.c.organization == filter.organization)
        if filter.since is not None:
            statement = statement.where(audit_log.c.at >= filter.since)
        if filter.until is not None:
            statement = statement.where(audit_log.c.at < filter.until)
        with self._store._read() as connection:
            found = [entry_from_row(row) for row in connection.execute(statement)]
        if len(found) > limit:
            return AuditPage(found[:limit], next_cursor=found[limit - 1].sequence)
        return AuditPage(found, next_cursor=None)

    def entries_after(self, after: int, limit: int) -> list[AuditEntry]:
        statement = (
            select(*_COLUMNS).where(audit_log.c.sequence > after).order_by(audit_log.c.sequence).limit(max(limit, 0))
        )
        with self._store._read() as connection:
            return [entry_from_row(row) for row in connection.execute(statement)]
