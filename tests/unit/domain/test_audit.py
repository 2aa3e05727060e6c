"""The audit log's hash chain: sealing, and what verify finds in an edited, cut or rewritten log."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.audit import (
    GENESIS_HASH,
    MAX_ACTION,
    AuditEntry,
    AuditRecord,
    ProblemKind,
    audit_record,
    canonical_json,
    entry_hash,
    seal,
    verify,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def records(count: int) -> list[AuditRecord]:
    return [
        audit_record(
            at=T0 + timedelta(seconds=i),
            actor="user:alice",
            organization="acme",
            action="POST /api/v1/centers",
            target=f"centers/c{i}",
            result=201,
            request_id=f"req-{i}",
            client="10.0.0.1",
        )
        for i in range(count)
    ]


def chain(count: int) -> list[AuditEntry]:
    return seal(records(count), None)


def test_the_first_entry_chains_to_genesis_and_each_to_the_one_before() -> None:
    entries = chain(3)
    assert [e.sequence for e in entries] == [1, 2, 3]
    assert entries[0].previous_hash == GENESIS_HASH
    assert entries[1].previous_hash == entries[0].hash
    assert entries[2].previous_hash == entries[1].hash
    assert verify(entries) == []


def test_the_hash_is_sha256_over_canonical_json_with_the_previous_hash() -> None:
    entry = chain(1)[0]
    fields = {
        "sequence": 1,
        "at": "2026-12-01T09:00:00.000000+00:00",
        "actor": "user:alice",
        "organization": "acme",
        "action": "POST /api/v1/centers",
        "target": "centers/c0",
        "result": "201",
        "request_id": "req-0",
        "client": "10.0.0.1",
        "previous_hash": GENESIS_HASH,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    assert canonical_json(1, entry.record, GENESIS_HASH) == text
    assert entry.hash == hashlib.sha256(text).hexdigest()


def test_sealing_continues_after_the_last_stored_entry() -> None:
    first = chain(2)
    more = seal(records(2), (first[-1].sequence, first[-1].hash))
    assert [e.sequence for e in more] == [3, 4]
    assert verify(first + more) == []


def test_the_time_is_hashed_in_utc_whatever_zone_it_came_in() -> None:
    beijing = timezone(timedelta(hours=8))
    local = audit_record(at=T0.astimezone(beijing), actor="a", action="x", result="ok")
    utc = audit_record(at=T0, actor="a", action="x", result="ok")
    assert local == utc
    assert entry_hash(1, local, GENESIS_HASH) == entry_hash(1, utc, GENESIS_HASH)


def test_texts_are_stored_without_nul_and_cut_to_size_before_hashing() -> None:
    record = audit_record(at=T0, actor="", action="P" * (MAX_ACTION + 50), target="a\x00b", result=403)
    assert record.actor == "anonymous"
    assert len(record.action) == MAX_ACTION
    assert record.target == "a\ufffdb"
    assert record.result == "403"


def test_an_edited_entry_is_named() -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], target="centers/elsewhere")
    problems = verify(entries)
    assert [(p.sequence, p.kind) for p in problems] == [(3, ProblemKind.EDITED)]
    assert "entry 3 was changed" in problems[0].message


def test_an_edited_time_result_actor_or_link_is_found_too() -> None:
    changes: list[dict[str, object]] = [
        {"at": T0 + timedelta(days=1)},
        {"result": "403"},
        {"actor": "user:mallory"},
        {"previous_hash": "0" * 63 + "1"},
    ]
    for change in changes:
        entries = chain(3)
        entries[1] = dataclasses.replace(entries[1], **change)  # type: ignore[arg-type]
        kinds = {(p.sequence, p.kind) for p in verify(entries)}
        assert (2, ProblemKind.EDITED) in kinds, change


def test_a_deleted_entry_is_named_as_missing() -> None:
    entries = chain(5)
    del entries[2]
    problems = verify(entries)
    assert [(p.sequence, p.kind) for p in problems] == [(3, ProblemKind.MISSING)]
    assert problems[0].message.startswith("entry 3 is missing")


def test_deleted_entries_at_the_start_and_a_run_of_them_are_named() -> None:
    entries = chain(8)
    problems = verify(entries[2:4] + entries[6:])
    assert [(p.sequence, p.kind) for p in problems] == [(1, ProblemKind.MISSING), (5, ProblemKind.MISSING)]
    assert "entries 1 to 2 are missing" in problems[0].message
    assert "entries 5 to 6 are missing" in problems[1].message


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link() -> None:
    entries = chain(4)
    forged = dataclasses.replace(entries[1], target="centers/elsewhere")
    entries[1] = dataclasses.replace(forged, hash=forged.expected_hash())
    problems = verify(entries)
    assert [(p.sequence, p.kind) for p in problems] == [(3, ProblemKind.UNLINKED)]
    assert "entry 3 does not chain to entry 2" in problems[0].message


def test_a_first_entry_that_does_not_start_from_genesis_is_named() -> None:
    entries = chain(2)
    forged = dataclasses.replace(entries[0], previous_hash="f" * 64)
    entries[0] = dataclasses.replace(forged, hash=forged.expected_hash())
    problems = verify(entries)
    assert (problems[0].sequence, problems[0].kind) == (1, ProblemKind.UNLINKED)


def test_an_empty_log_is_intact() -> None:
    assert verify([]) == []


@given(count=st.integers(1, 30), index=st.data(), target=st.text(min_size=1, max_size=20))
def test_any_single_edit_is_found_at_its_entry(count: int, index: st.DataObject, target: str) -> None:
    entries = chain(count)
    i = index.draw(st.integers(0, count - 1))
    if entries[i].target == target:
        return
    entries[i] = dataclasses.replace(entries[i], target=target)
    assert [(p.sequence, p.kind) for p in verify(entries)] == [(i + 1, ProblemKind.EDITED)]


@given(count=st.integers(2, 30), index=st.data())
def test_any_single_deletion_but_the_last_is_found_at_its_number(count: int, index: st.DataObject) -> None:
    entries = chain(count)
    i = index.draw(st.integers(0, count - 2))  # the newest entry's deletion needs the noted head
    del entries[i]
    assert [(p.sequence, p.kind) for p in verify(entries)] == [(i + 1, ProblemKind.MISSING)]
