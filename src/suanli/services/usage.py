"""Use cases of metering: checkpoint running attempts, and read usage as records or sums.

Final records are not written here: the storage writes each in the transaction that ends its
attempt (adapters/storage/usage_rows.py), whichever path ends it. What this service adds is the
checkpoint, run by the scheduler loop's leader as housekeeping, and the reading, scoped to what
the asker may see (``domain.usage.readable_usage``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from suanli.domain.errors import InvalidSpec
from suanli.domain.job_reach import EVERY_JOB, JobReach
from suanli.domain.usage import UsageGrouping, UsageRecord, UsageSummary
from suanli.services.clock import Clock

log = logging.getLogger(__name__)

# How often the leader looks for attempts due a checkpoint at most: the look reads every running
# attempt, which is too much for every scheduling cycle and needless when intervals are hours.
MAX_CHECK_GAP_S = 60.0


@dataclass(frozen=True, slots=True)
class UsageFilter:
    reach: JobReach = EVERY_JOB  # whose usage the asker may read
    project: str | None = None
    center: str | None = None
    job_id: int | None = None
    since: datetime | None = None  # records whose interval ends at or after this
    until: datetime | None = None  # ... and before this


@dataclass(frozen=True, slots=True)
class UsagePage:
    records: list[UsageRecord]
    next_cursor: int | None  # pass as ``after`` for the next page; None on the last one


class UsageStore(Protocol):
    """Usage records in storage. Nothing in it changes a record once written."""

    def write_checkpoints(self, now: datetime, every_s: float) -> int:
        """A checkpoint record for each RUNNING attempt metered up to ``every_s`` ago or earlier;
        how many were written. Safe to run in several processes at once."""
        ...

    def list_usage(self, filter: UsageFilter, *, after: int | None, limit: int) -> UsagePage:
        """Records in the order they were written (by id), after the id ``after``."""
        ...

    def summarize_usage(self, filter: UsageFilter, by: UsageGrouping) -> list[UsageSummary]:
        """Sums of the matching records per group, by key."""
        ...


class UsageService:
    def __init__(self, store: UsageStore, clock: Clock, *, interval_s: float) -> None:
        if interval_s <= 0:
            raise InvalidSpec("usage_interval_s must be positive", field="usage_interval_s")
        self.store = store
        self.clock = clock
        self.interval_s = interval_s
        self._check_gap = timedelta(seconds=min(MAX_CHECK_GAP_S, interval_s / 10))
        self._next_check: datetime | None = None

    def checkpoint(self) -> int:
        """Meters running attempts due a checkpoint (their records end ``interval_s`` ago or
        more); how many records it wrote. Leader housekeeping: it looks at most once per
        ``MAX_CHECK_GAP_S`` (or a tenth of the interval), and a failure is logged, never raised,
        so that metering never stops scheduling; the next look makes up for it, since each
        checkpoint starts where the last record ends."""
        now = self.clock.now()
        if self._next_check is not None and now < self._next_check:
            return 0
        self._next_check = now + self._check_gap
        try:
            return self.store.write_checkpoints(now, self.interval_s)
        except Exception:
            log.exception("could not write usage checkpoints; trying again in %s", self._check_gap)
            return 0

    def records(self, filter: UsageFilter, *, after: int | None = None, limit: int = 100) -> UsagePage:
        """A page of records (an empty range, ``until`` not after ``since``, has none, as /audit)."""
        return self.store.list_usage(filter, after=after, limit=limit)

    def summarize(self, filter: UsageFilter, by: UsageGrouping) -> list[UsageSummary]:
        return self.store.summarize_usage(filter, by)
