"""``SqlUsageStore``: the UsageStore port (services/usage.py) on SQLAlchemy Core.

Reads select and sum in the database, so pages and sums count exactly the records the asker
may see; the only write is ``write_checkpoints`` (final records are written by the paths that
end attempts, see usage_rows.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, false, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from suanli.adapters.storage import rows, usage_rows
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import usage_records
from suanli.domain.errors import InvalidSpec
from suanli.domain.job_reach import JobReach
from suanli.domain.usage import UsageGrouping, UsageSummary
from suanli.services.usage import UsageFilter, UsagePage

u = usage_records.c
_HOUR = 3600.0


def reach_condition(reach: JobReach) -> ColumnElement[bool] | None:
    """The records within ``reach`` (None: all): an organization's own usage, and the usage on
    the centers an organization owned when it ran (the record keeps the owner of the moment)."""
    if reach.everything:
        return None
    parts: list[ColumnElement[bool]] = []
    if reach.organization is not None:
        parts.append(u.organization == reach.organization)
    if reach.centers_of is not None:
        parts.append(u.center_organization == reach.centers_of)
    return or_(*parts) if parts else false()


def _conditions(filter: UsageFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    reach = reach_condition(filter.reach)
    if reach is not None:
        conditions.append(reach)
    if filter.project is not None:
        conditions.append(u.project == filter.project)
    if filter.center is not None:
        conditions.append(u.center == filter.center)
    if filter.job_id is not None:
        conditions.append(u.job_id == filter.job_id)
    # A record counts at the moment its interval ends (it is at most one checkpoint interval long).
    if filter.since is not None:
        conditions.append(u.interval_end >= rows.utc(filter.since))
    if filter.until is not None:
        conditions.append(u.interval_end < rows.utc(filter.until))
    return conditions


class SqlUsageStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    def write_checkpoints(self, now: datetime, every_s: float) -> int:
        with self._store._write() as connection:
            return usage_rows.write_checkpoints(connection, now, every_s, lock=self._postgres)

    def list_usage(self, filter: UsageFilter, *, after: int | None, limit: int) -> UsagePage:
        if limit < 1:
            raise InvalidSpec("limit must be at least 1", field="limit")
        statement = select(usage_records).where(*_conditions(filter)).order_by(u.id).limit(limit + 1)
        if after is not None:
            statement = statement.where(u.id > after)
        with self._store._read() as connection:
            found = [usage_rows.record_from_row(row) for row in connection.execute(statement)]
        if len(found) > limit:
            return UsagePage(found[:limit], next_cursor=found[limit - 1].id)
        return UsagePage(found, next_cursor=None)

    def summarize_usage(self, filter: UsageFilter, by: UsageGrouping) -> list[UsageSummary]:
        keys = self._keys(by)
        statement = (
            select(
                *keys,
                func.count().label("records"),
                func.sum(u.seconds).label("seconds"),
                func.sum(u.accelerators * u.seconds).label("accelerator_seconds"),
                func.sum(u.cpus * u.seconds).label("cpu_seconds"),
                func.sum(u.memory_gb * u.seconds).label("memory_gb_seconds"),
                func.max(u.interval_end).label("until"),
            )
            .where(*_conditions(filter))
            .group_by(*keys)
            .order_by(*keys)
        )
        with self._store._read() as connection:
            found = connection.execute(statement).all()
        return [
            UsageSummary(
                key="/".join(str(part) for part in row[: len(keys)]),
                records=int(row.records),
                seconds=float(row.seconds or 0),
                accelerator_hours=float(row.accelerator_seconds or 0) / _HOUR,
                cpu_hours=float(row.cpu_seconds or 0) / _HOUR,
                memory_gb_hours=float(row.memory_gb_seconds or 0) / _HOUR,
                until=rows.utc(row.until) if row.until is not None else None,
            )
            for row in found
        ]

    def _keys(self, by: UsageGrouping) -> list[ColumnElement[Any]]:
        if by is UsageGrouping.DAY:
            return [self._utc_day().label("day")]
        if by is UsageGrouping.PROJECT:
            return [u.organization, u.project]
        if by is UsageGrouping.CENTER:
            return [u.center]
        if by is UsageGrouping.ACCELERATOR:
            return [u.accelerator]
        return [u.job_id]

    def _utc_day(self) -> ColumnElement[Any]:
        """The UTC day an interval ends on, as YYYY-MM-DD text."""
        if self._postgres:
            return func.to_char(func.timezone(literal("UTC"), u.interval_end), literal("YYYY-MM-DD"), type_=String)
        # SQLite keeps UTC as naive ISO text (tables.UtcDateTime): the day is its first ten characters.
        return func.substr(u.interval_end, 1, 10, type_=String)
