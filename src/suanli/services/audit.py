"""Use cases of the audit log: record what happened, list it, verify its hash chain.

Records are chained and written by one writer thread (group commit), many in one transaction.
With ``linger_s`` the writer gathers what arrives within that time first, so that recording
every state-changing request costs a few transactions a second rather than one per request;
``flush`` (which ``list``, ``verify`` and ``close`` call first) writes what waits at once.
``record_later`` does not block: an event loop may await the future it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from suanli.domain.audit import AuditEntry, AuditRecord, ChainCheck, ChainProblem, audit_record
from suanli.services.clock import Clock
from suanli.services.group_commit import GroupCommit
from suanli.services.ports import AuditFilter, AuditPage, AuditStore

log = logging.getLogger("suanli.audit")

VERIFY_PAGE = 5_000  # entries read at a time while verifying: memory stays flat however long the log
DEFAULT_LINGER_S = 0.05  # how long records gather before they are written, unless a caller waits for them


@dataclass(frozen=True, slots=True)
class Verification:
    entries: int
    last: AuditEntry | None  # the head of the chain: note its hash elsewhere to catch a rewritten tail
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditService:
    def __init__(self, store: AuditStore, clock: Clock, *, linger_s: float = DEFAULT_LINGER_S) -> None:
        self.store = store
        self.clock = clock
        self._group: GroupCommit[AuditRecord, AuditEntry] = GroupCommit(
            lambda records: self.store.append(records), linger_s=linger_s, name="suanli-audit-writer"
        )

    def record_later(
        self,
        *,
        actor: str,
        action: str,
        result: str | int,
        organization: str = "",
        target: str = "",
        request_id: str = "",
        client: str = "",
    ) -> Future[AuditEntry]:
        """Queues a record, stamped now; the future holds the stored entry, or the error storing it
        raised (which is logged here: whoever does not wait for it learns nothing more)."""
        record = audit_record(
            at=self.clock.now(),
            actor=actor,
            organization=organization,
            action=action,
            target=target,
            result=result,
            request_id=request_id,
            client=client,
        )
        stored = self._group.enqueue(record)
        stored.add_done_callback(_report_failure(record))
        return stored

    def record(self, **fields: Any) -> AuditEntry:
        """Records a named action (``center.add``, ``principal.bootstrap``) with the fields of
        ``record_later`` and returns it once stored."""
        stored = self.record_later(**fields)
        self.flush()
        return stored.result()

    def flush(self, timeout: float | None = None) -> bool:
        """Writes the records this process still holds; False if that took longer than ``timeout``."""
        return self._group.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if not self.flush(timeout):
            log.error("the audit log's writer did not finish within %s s: the last records may be lost", timeout)

    def list(self, filter: AuditFilter, *, before: int | None = None, limit: int = 100) -> AuditPage:
        self.flush()  # what this process recorded a moment ago is in the answer
        return self.store.list_entries(filter, before=before, limit=limit)

    def verify(self) -> Verification:
        """Reads the whole log in sequence order and checks every hash and link."""
        self.flush()
        check = ChainCheck()
        after = 0
        while page := self.store.entries_after(after, VERIFY_PAGE):
            check.feed(page)
            after = page[-1].sequence
        return Verification(check.entries, check.last, check.problems)


def _report_failure(record: AuditRecord) -> Callable[[Future[AuditEntry]], None]:
    def report(stored: Future[AuditEntry]) -> None:
        error = stored.exception()
        if error is not None:
            log.error(
                "could not record %s (%s, request %s) in the audit log: %s",
                record.action,
                record.result,
                record.request_id or "-",
                error,
            )

    return report
