"""Engines for SQLite (the laptop default) and PostgreSQL (production), built per call, never global."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 10_000

# Execution option read by the SQLite "begin" hook: the transaction to start with
# ``BEGIN IMMEDIATE`` (takes the write lock up front) instead of a deferred ``BEGIN``.
WRITE = {"suanli_write": True}


def normalize_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; everything else passes as given."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database or another backend."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database.removeprefix("file:").split("?", 1)[0]).expanduser()


def private_database(path: Path) -> None:
    """Creates the SQLite database file 0600 before SQLite does (it would use the umask's
    0644), and makes an existing one of ours, and its -wal and -shm, 0600. SQLite creates the
    -wal and -shm files with the database file's mode, so they stay private too."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError:
        return  # SQLite says what is wrong, in its own words, when it opens it
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
            if info.st_uid == os.geteuid() and info.st_mode & 0o077:
                file.chmod(0o600)
        except OSError:
            continue  # not there (yet), or not ours


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine tuned for Suanli: WAL and a busy timeout on SQLite, psycopg 3 on PostgreSQL."""
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    if backend == "postgresql":
        connect_args = {"connect_timeout": 10} if "connect_timeout" not in parsed.query else {}
        kwargs.setdefault("pool_pre_ping", True)
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 10)
        return create_engine(parsed, connect_args=connect_args, **kwargs)
    return create_engine(parsed, **kwargs)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    path = sqlite_path(url)
    if path is None:
        # One shared connection, or each pooled connection would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_database(path)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see _on_begin);
        # the module's own implicit BEGIN would also make DDL non-transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if path is not None:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
        # another writer committed meanwhile (busy_timeout cannot help); writers take the lock first.
        write = connection.get_execution_options().get("suanli_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
