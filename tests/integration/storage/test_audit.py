"""The audit log on SQLite and PostgreSQL: appended under one lock by any number of writers,
listed with filters and cursors, and verified, also after rows were changed behind its back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from suanli.adapters.storage.audit_store import SqlAuditStore
from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.store import SqlStore
from suanli.domain.audit import AuditRecord, ProblemKind, audit_record
from suanli.services.audit import AuditService
from suanli.services.ports import AuditFilter, AuditStore
from tests.integration.storage.helpers import T0, later


def record(i: int, actor: str = "user:alice", action: str = "POST /api/v1/jobs", result: str = "201") -> AuditRecord:
    return audit_record(at=later(i), actor=actor, organization="acme", action=action, target=f"jobs/{i}", result=result)


@pytest.fixture
def audit_store(store: SqlStore) -> AuditStore:
    return SqlAuditStore(store)


class FixedClock:
    def now(self):  # type: ignore[no-untyped-def]
        return T0


@pytest.fixture
def audit(audit_store: AuditStore) -> AuditService:
    return AuditService(audit_store, FixedClock())


def test_appends_chain_across_calls_and_read_back_exactly(audit_store: AuditStore, audit: AuditService) -> None:
    first = audit_store.append([record(0), record(1)])
    second = audit_store.append([record(2)])
    assert [e.sequence for e in first + second] == [1, 2, 3]
    assert second[0].previous_hash == first[-1].hash
    assert audit_store.entries_after(0, 10) == first + second  # times, texts and hashes as written
    result = audit.verify()
    assert result.ok and result.entries == 3 and result.last == second[0]


def test_list_filters_and_pages_newest_first(audit_store: AuditStore) -> None:
    audit_store.append([record(i, actor="user:alice" if i % 2 else "anonymous") for i in range(6)])
    audit_store.append([record(6, action="DELETE /api/v1/centers/c", result="403")])
    page = audit_store.list_entries(AuditFilter(), before=None, limit=4)
    assert [e.sequence for e in page.entries] == [7, 6, 5, 4] and page.next_cursor == 4
    rest = audit_store.list_entries(AuditFilter(), before=page.next_cursor, limit=4)
    assert [e.sequence for e in rest.entries] == [3, 2, 1] and rest.next_cursor is None
    anonymous = audit_store.list_entries(AuditFilter(actor="anonymous"), before=None, limit=9)
    assert [e.sequence for e in anonymous.entries] == [5, 3, 1]
    by_action = audit_store.list_entries(AuditFilter(action_prefix="DELETE "), before=None, limit=9)
    assert [e.sequence for e in by_action.entries] == [7]
    # A prefix is compared exactly, case included, on both databases.
    assert audit_store.list_entries(AuditFilter(action_prefix="delete"), before=None, limit=9).entries == []
    assert audit_store.list_entries(AuditFilter(action_prefix="POST_"), before=None, limit=9).entries == []
    refused = audit_store.list_entries(AuditFilter(result="403"), before=None, limit=9)
    assert [e.sequence for e in refused.entries] == [7]
    window = AuditFilter(since=later(2), until=later(4))
    assert [e.sequence for e in audit_store.list_entries(window, before=None, limit=9).entries] == [4, 3]


def test_concurrent_appenders_in_two_engines_never_share_a_number(engine: Engine, database_url: str) -> None:
    """Two engines stand for two server processes; each has several threads appending at once."""
    other = make_engine(database_url)
    try:
        stores = [SqlAuditStore(SqlStore(engine)), SqlAuditStore(SqlStore(other))]
        errors: list[BaseException] = []

        def append(store: SqlAuditStore, worker: int) -> None:
            try:
                for i in range(10):
                    store.append([record(worker * 100 + i), record(worker * 100 + i)])
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=append, args=(stores[w % 2], w)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        entries = stores[0].entries_after(0, 1000)
        assert [e.sequence for e in entries] == list(range(1, 81))
        result = AuditService(stores[1], FixedClock()).verify()
        assert result.ok and result.entries == 80
    finally:
        other.dispose()


def test_the_service_records_concurrent_requests_in_one_chain(audit: AuditService) -> None:
    barrier = threading.Barrier(8)

    def record_one(i: int) -> None:
        barrier.wait()
        audit.record(actor="user:bob", action="center.add", target=f"centers/c{i}", result="ok")

    threads = [threading.Thread(target=record_one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = audit.verify()
    assert result.ok and result.entries == 8
    assert sorted(e.target for e in audit.list(AuditFilter(), limit=10).entries) == [f"centers/c{i}" for i in range(8)]


@pytest.fixture
def five(audit_store: AuditStore) -> Iterator[None]:
    audit_store.append([record(i) for i in range(5)])
    yield


@pytest.mark.usefixtures("five")
def test_a_row_edited_in_the_database_is_named(engine: Engine, audit: AuditService) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET target = 'jobs/999' WHERE sequence = 3"))
    result = audit.verify()
    assert [(p.sequence, p.kind) for p in result.problems] == [(3, ProblemKind.EDITED)]
    with engine.begin() as connection:  # put back as it was: intact again
        connection.execute(text("UPDATE audit_log SET target = 'jobs/2' WHERE sequence = 3"))
    assert audit.verify().ok


@pytest.mark.usefixtures("five")
def test_a_row_deleted_in_the_database_is_named(engine: Engine, audit: AuditService) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE sequence = 2"))
    result = audit.verify()
    assert [(p.sequence, p.kind) for p in result.problems] == [(2, ProblemKind.MISSING)]
    assert result.entries == 4


def test_verify_reads_a_long_log_page_by_page(audit_store: AuditStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import suanli.services.audit as service

    monkeypatch.setattr(service, "VERIFY_PAGE", 7)
    audit_store.append([record(i) for i in range(30)])
    result = AuditService(audit_store, FixedClock()).verify()
    assert result.ok and result.entries == 30 and result.last is not None and result.last.sequence == 30
