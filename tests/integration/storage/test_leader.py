"""The leader lock: one holder at a time, across engines and processes; freed when the holder dies."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.leader import LOCK_FILE, PostgresLeaderLock, make_leader_lock

HOLD_IN_CHILD = """
import sys, time
from pathlib import Path
from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.leader import make_leader_lock
lock = make_leader_lock(make_engine(sys.argv[1]), "child", Path(sys.argv[2]))
print("held" if lock.try_acquire() else "refused", flush=True)
time.sleep(120)
"""


@pytest.fixture
def second_engine(database_url: str, engine: Engine) -> Iterator[Engine]:
    """Another engine on the same database: another pool, as another server process would have."""
    other = make_engine(database_url)
    yield other
    other.dispose()


def eventually(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_one_holder_at_a_time(engine: Engine, second_engine: Engine, tmp_path: Path) -> None:
    first = make_leader_lock(engine, "a", tmp_path)
    second = make_leader_lock(second_engine, "b", tmp_path)
    assert not first.held()
    assert first.try_acquire() and first.try_acquire() and first.held()
    assert not second.try_acquire() and not second.held()
    first.release()
    assert not first.held()
    assert second.try_acquire() and second.held()
    assert not first.try_acquire()
    second.release()
    second.release()  # releasing twice is harmless


def test_sqlite_lock_file_lies_next_to_the_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "suanli.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        lock = make_leader_lock(engine, "host:42", tmp_path / "elsewhere")
        assert lock.try_acquire()
        assert (database.parent / LOCK_FILE).read_text() == "host:42\n"
        lock.release()
    finally:
        engine.dispose()


def test_a_dead_holder_process_frees_the_lock(database_url: str, engine: Engine, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_IN_CHILD, database_url, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        lock = make_leader_lock(engine, "parent", tmp_path)
        assert not lock.try_acquire()
        child.kill()  # no release, no cleanup: as if the machine lost the process
        child.wait(10)
        assert eventually(lock.try_acquire), "the lock stayed taken after its holder died"
        lock.release()
    finally:
        child.kill()
        child.wait(10)


@pytest.mark.postgres
def test_postgres_lock_is_lost_with_its_connection(postgres_engine: Engine, tmp_path: Path) -> None:
    second_engine = make_engine(postgres_engine.url)
    try:
        first = make_leader_lock(postgres_engine, "a", tmp_path)
        second = make_leader_lock(second_engine, "b", tmp_path)
        assert isinstance(first, PostgresLeaderLock)
        assert first.try_acquire() and not second.try_acquire()
        assert first._connection is not None
        pid = first._connection.execute(text("SELECT pg_backend_pid()")).scalar()
        with second_engine.connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        assert eventually(second.try_acquire)
        assert not first.held()  # it notices the broken connection instead of claiming the lock
        assert not first.try_acquire()
        second.release()
        assert first.try_acquire()
        first.release()
    finally:
        second_engine.dispose()


@pytest.mark.postgres
def test_postgres_locks_of_different_schemas_do_not_collide(postgres_engine: Engine, tmp_path: Path) -> None:
    lock = make_leader_lock(postgres_engine, "a", tmp_path)
    assert lock.try_acquire()
    public = make_engine(postgres_engine.url.set(query={}))  # the default search_path
    try:
        other_schema = make_leader_lock(public, "b", tmp_path)
        assert other_schema.try_acquire()
        other_schema.release()
    finally:
        public.dispose()
    lock.release()
