"""The migrations build exactly the schema tables.py describes, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.migrations_runner import current_revision, head_revision, upgrade_database
from suanli.adapters.storage.tables import metadata

MIGRATIONS = Path(__file__).resolve().parents[3] / "src" / "suanli" / "adapters" / "storage" / "migrations"


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    assert schema_diff(engine) == []


def test_the_comparison_notices_a_difference(engine: Engine) -> None:
    # Guards the test above against comparing nothing with nothing.
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_jobs_center_id"))
    assert any("ix_jobs_center_id" in str(change) for change in schema_diff(engine))


def test_upgrade_runs_again_harmlessly_and_from_any_directory(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may depend on the working directory
    upgrade_database(database_url)
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        newest = max(p.stem.split("_")[0] for p in (MIGRATIONS / "versions").glob("0*.py"))
        assert current_revision(engine) == head_revision() == newest
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_sqlite_engine_creates_its_directory_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "suanli.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert path.parent.is_dir()
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/test")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()
