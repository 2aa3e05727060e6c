"""The audit log: who did what, for which organization, with what result; append-only and
tamper-evident.

Each entry carries a SHA-256 hash over a canonical JSON of its own fields and the hash of the
entry before it (the first entry chains to ``GENESIS_HASH``). Editing a stored entry makes its
hash disagree with its content; deleting one leaves a gap in the sequence numbers; rewriting an
entry together with its hash breaks the link of the entry after it. ``ChainCheck`` finds all
three, naming the sequence number. Pure: time comes in with each record, nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

GENESIS_HASH = "0" * 64  # what the first entry's previous_hash is

# Longest text kept per field (longer is cut before hashing; the columns are this wide).
MAX_ACTOR = 200
MAX_ORGANIZATION = 200
MAX_ACTION = 300
MAX_TARGET = 300
MAX_RESULT = 16
MAX_REQUEST_ID = 200
MAX_CLIENT = 100

ANONYMOUS = "anonymous"
OK = "ok"  # the result of a named action that succeeded
DENIED = "denied"  # ... and of one that was refused


def _text(value: object, limit: int) -> str:
    # A NUL is kept by no database (PostgreSQL refuses it) and means nothing in a log line.
    return str(value).replace("\x00", "\ufffd")[:limit]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What happened, before it has a place in the chain. Build it with ``audit_record``."""

    at: datetime
    actor: str
    organization: str
    action: str
    target: str
    result: str
    request_id: str
    client: str


def audit_record(
    *,
    at: datetime,
    actor: str,
    action: str,
    result: str | int,
    organization: str = "",
    target: str = "",
    request_id: str = "",
    client: str = "",
) -> AuditRecord:
    """A record with its time in UTC and its texts as they will be stored (no NUL, cut to size)."""
    return AuditRecord(
        at=_utc(at),
        actor=_text(actor or ANONYMOUS, MAX_ACTOR),
        organization=_text(organization, MAX_ORGANIZATION),
        action=_text(action, MAX_ACTION),
        target=_text(target, MAX_TARGET),
        result=_text(result, MAX_RESULT),
        request_id=_text(request_id, MAX_REQUEST_ID),
        client=_text(client, MAX_CLIENT),
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A record in its place: its sequence number (1, 2, ...), the hash of the entry before it,
    and its own hash over both."""

    sequence: int
    at: datetime
    actor: str
    organization: str
    action: str
    target: str
    result: str
    request_id: str
    client: str
    previous_hash: str
    hash: str

    @property
    def record(self) -> AuditRecord:
        return AuditRecord(
            self.at, self.actor, self.organization, self.action, self.target, self.result, self.request_id, self.client
        )

    def expected_hash(self) -> str:
        """The hash this entry's content and link call for; ``hash`` differs once it was edited."""
        return entry_hash(self.sequence, self.record, self.previous_hash)


def canonical_json(sequence: int, record: AuditRecord, previous_hash: str) -> bytes:
    """The bytes an entry's hash is taken over: its fields and the previous hash as JSON with
    sorted keys, no spaces, UTF-8, the time as ISO 8601 in UTC to the microsecond."""
    fields = {
        "sequence": sequence,
        "at": _utc(record.at).isoformat(timespec="microseconds"),
        "actor": record.actor,
        "organization": record.organization,
        "action": record.action,
        "target": record.target,
        "result": record.result,
        "request_id": record.request_id,
        "client": record.client,
        "previous_hash": previous_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(sequence: int, record: AuditRecord, previous_hash: str) -> str:
    return hashlib.sha256(canonical_json(sequence, record, previous_hash)).hexdigest()


def seal(records: Sequence[AuditRecord], after: tuple[int, str] | None) -> list[AuditEntry]:
    """Chains ``records`` onto the last stored entry, given as (sequence, hash); None for an
    empty log. The caller holds the log's write lock from reading ``after`` until it has stored
    the result, so that no other writer takes the same sequence numbers."""
    sequence, previous = after if after is not None else (0, GENESIS_HASH)
    sealed = []
    for record in records:
        sequence += 1
        digest = entry_hash(sequence, record, previous)
        sealed.append(
            AuditEntry(
                sequence,
                record.at,
                record.actor,
                record.organization,
                record.action,
                record.target,
                record.result,
                record.request_id,
                record.client,
                previous,
                digest,
            )
        )
        previous = digest
    return sealed


class ProblemKind(StrEnum):
    EDITED = "edited"  # the stored hash does not match the entry's content
    MISSING = "missing"  # sequence numbers skipped: entries were deleted
    UNLINKED = "unlinked"  # previous_hash is not the hash of the entry before it


@dataclass(frozen=True, slots=True)
class ChainProblem:
    sequence: int  # the entry it concerns (for MISSING: the first one missing)
    kind: ProblemKind
    message: str


class ChainCheck:
    """Checks a log fed in ascending sequence order, a page at a time, in constant memory."""

    def __init__(self) -> None:
        self.entries = 0
        self.last: AuditEntry | None = None
        self.problems: list[ChainProblem] = []

    def feed(self, entries: Iterable[AuditEntry]) -> None:
        for entry in entries:
            self._check(entry)

    def _check(self, entry: AuditEntry) -> None:
        last = self.last
        expected = last.sequence + 1 if last is not None else 1
        previous = last.hash if last is not None else GENESIS_HASH
        if entry.sequence != expected:
            self._missing(expected, entry)
        elif entry.previous_hash != previous:
            n = entry.sequence
            why = (
                f"entry {n} does not chain to entry {n - 1}: entry {n - 1} was rewritten together with its "
                f"hash, or entry {n}'s previous_hash was edited"
                if last is not None
                else f"entry {n}'s previous_hash is not the genesis value: it was edited"
            )
            self._add(n, ProblemKind.UNLINKED, why)
        if entry.hash != entry.expected_hash():
            self._add(
                entry.sequence,
                ProblemKind.EDITED,
                f"entry {entry.sequence} was changed after it was written: its content does not match its hash",
            )
        self.entries += 1
        self.last = entry

    def _missing(self, expected: int, entry: AuditEntry) -> None:
        if entry.sequence < expected:  # cannot happen with a unique, ordered sequence; say so if it does
            self._add(entry.sequence, ProblemKind.UNLINKED, f"entry {entry.sequence} comes after entry {expected - 1}")
            return
        gone = entry.sequence - expected
        which = f"entry {expected} is" if gone == 1 else f"entries {expected} to {entry.sequence - 1} are"
        self._add(expected, ProblemKind.MISSING, f"{which} missing: deleted from the log")

    def _add(self, sequence: int, kind: ProblemKind, message: str) -> None:
        self.problems.append(ChainProblem(sequence, kind, message))

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(entries: Iterable[AuditEntry]) -> list[ChainProblem]:
    """Every problem in a log given in ascending sequence order; empty when it is intact."""
    check = ChainCheck()
    check.feed(entries)
    return check.problems
