"""Storage tests run on SQLite (a file in tmp_path) and on PostgreSQL (a fresh schema per test).

The PostgreSQL server is ``SUANLI_TEST_POSTGRES_URL`` (default: the local server, database
``test``). Its cases are skipped only when it does not answer within 2 s, and fail even then
when SUANLI_REQUIRE_POSTGRES=1 (as in CI).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, make_url

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.migrations_runner import upgrade_database
from suanli.adapters.storage.store import SqlStore
from suanli.services.ports import NewJob, Store
from tests.integration.storage.helpers import T0, spec

POSTGRES_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@cache
def postgres_unreachable() -> str | None:
    """Why the server cannot be reached, or None. Only this skips: a wrong database name or a
    refused login is a failure to see, not a reason to skip."""
    url = make_url(POSTGRES_URL)
    address = (url.host or "127.0.0.1", url.port or 5432)
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as error:
        return f"PostgreSQL at {address[0]}:{address[1]} is unreachable: {error}"
    return None


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(sql)


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections work in a new, empty schema; the schema is dropped afterwards."""
    reason = postgres_unreachable()
    if reason is not None:
        if os.environ.get("SUANLI_REQUIRE_POSTGRES") == "1":  # CI: a missing server is a failure
            pytest.fail(f"{reason}; SUANLI_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)
    schema = f"storage_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        _admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file (its directory not yet created), or a new PG schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'suanli.db'}"
        return
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """For the few tests of PostgreSQL-only behaviour (mark them ``postgres``)."""
    with postgres_schema_url() as url:
        upgrade_database(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> SqlStore:
    return SqlStore(engine)


def _implements_the_port(store: SqlStore) -> Store:
    return store  # for mypy: SqlStore satisfies the Store protocol


@pytest.fixture
def submit(store: SqlStore) -> Callable[..., list[int]]:
    """Adds jobs named ``name-0`` .. and returns their ids: ``submit(3, tenant="t1")``."""

    def _submit(count: int = 1, *, tenant: str = "default", name: str = "job", **fields: Any) -> list[int]:
        jobs = [NewJob(tenant, spec(f"{name}-{i}", **fields)) for i in range(count)]
        return [job.id for job in store.add_jobs(jobs, T0)]

    return _submit
