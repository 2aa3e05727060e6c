"""The scheduler's leader lock: one process schedules; the lock dies with its holder.

PostgreSQL: a session-level advisory lock held on one dedicated connection; the server frees it
when that session ends for any reason (process killed, network cut). SQLite: an exclusive
``flock`` on ``scheduler.lock`` next to the database file; the kernel frees it when the process
dies. Neither leaves a stale lock behind that a person would have to clear.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from suanli.adapters.storage.engine import sqlite_path
from suanli.services.ports import LeaderLock

LOCK_FILE = "scheduler.lock"


def leader_key(schema: str) -> int:
    """A signed 64-bit advisory-lock key per schema.

    Advisory locks are per database, not per schema; keying on the schema gives each Suanli
    installation in its own schema (and each test) its own leader.
    """
    digest = hashlib.blake2b(f"suanli-scheduler-leader:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresLeaderLock:
    def __init__(self, engine: Engine, holder: str, key: int | None = None) -> None:
        self.engine = engine
        self.holder = holder
        self.key = key
        self._connection: Connection | None = None
        self._mutex = threading.Lock()  # the loop thread and API threads share one connection

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._alive():
                return True
            # A database that cannot be reached raises here: the caller reports it and tries again.
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                if self.key is None:
                    self.key = leader_key(connection.execute(text("SELECT current_schema()")).scalar_one())
                got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            except BaseException:
                connection.invalidate()  # whatever state it is in, it must not hold a lock in the pool
                connection.close()
                raise
            if got:
                self._connection = connection
                return True
            connection.close()
            return False

    def held(self) -> bool:
        with self._mutex:
            return self._alive()

    def _alive(self) -> bool:
        """True while the session that holds the lock is still connected (so the lock still ours)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            self._drop()
            return False

    def release(self) -> None:
        with self._mutex:
            if self._connection is None:
                return
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.close()
                self._connection = None
            except DBAPIError:
                self._drop()

    def _drop(self) -> None:
        # Close the physical connection rather than pool it: a pooled session still holding the
        # lock would keep every other process from ever leading.
        if self._connection is not None:
            self._connection.invalidate()
            self._connection.close()
            self._connection = None


class FileLeaderLock:
    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._fd is not None:
                return True
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            # Who leads, for a person looking at the file; the lock itself is the flock.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{self.holder}\n".encode(), 0)
            self._fd = fd
            return True

    def held(self) -> bool:
        with self._mutex:
            return self._fd is not None

    def release(self) -> None:
        with self._mutex:
            if self._fd is None:
                return
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def make_leader_lock(engine: Engine, holder: str, home: Path, *, key: int | None = None) -> LeaderLock:
    """The lock that fits the engine's database. ``key`` overrides the PostgreSQL advisory key."""
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine, holder, key)
    database = sqlite_path(engine.url)
    lock_dir = database.parent if database is not None else home
    return FileLeaderLock(lock_dir / LOCK_FILE, holder)
