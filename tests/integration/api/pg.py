"""A fresh PostgreSQL schema per test, for the suites that run on both databases.

The server is ``SUANLI_TEST_POSTGRES_URL`` (default: the local one as user postgres); a test that
needs it is skipped only when nothing answers there.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import quote, urlsplit

import pytest

POSTGRES_URL = os.environ.get("SUANLI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    parts = urlsplit(POSTGRES_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2).close()
    except OSError as error:
        return f"PostgreSQL at {parts.hostname}:{parts.port} is unreachable: {error}"
    return None


@contextmanager
def postgres_schema_url(prefix: str) -> Iterator[str]:
    """A URL whose connections work in a new, empty schema; the schema is dropped afterwards."""
    reason = postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
