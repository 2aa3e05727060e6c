"""Runs the Alembic migrations from code: ``upgrade_database(url)`` brings a database to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.pool import NullPool

from suanli.adapters.storage.engine import WRITE, make_engine

_HERE = Path(__file__).resolve().parent
# Serialises servers that start together on one PostgreSQL database (an arbitrary fixed number).
_MIGRATION_LOCK_KEY = 0x5375_616E_6C69_4D01


def alembic_config() -> Config:
    """The packaged Alembic configuration, independent of the current working directory."""
    config = Config(str(_HERE / "alembic.ini"))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    return config


def upgrade_database(url: str) -> None:
    """Creates or upgrades the schema to the newest revision; safe to call on every start.

    Two processes starting at once do not race: SQLite takes its write lock first
    (BEGIN IMMEDIATE) and PostgreSQL an advisory lock, so the second finds the work done.
    """
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(**WRITE) as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
