"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import portal.models  # noqa: F401
from portal.db import Base
from tests.conftest import PG_SKIP, PG_URL, make_app, pg_schema_url

SCHEMA = f"migration_check_{os.getpid()}"


def _engine_for(kind: str, tmp_path: Path):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}", None
    if not PG_URL:
        pytest.skip(PG_SKIP)
    # A schema of its own, so that this test never touches the one the other tests use.
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    return pg_schema_url(SCHEMA), admin


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_match_models(kind: str, tmp_path: Path) -> None:
    url, admin = _engine_for(kind, tmp_path)
    app = make_app(tmp_path, url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = app.extensions["portal.db"].engine
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert differences == [], "models and migrations differ: write a migration"
    assert {table.name for table in Base.metadata.sorted_tables} <= tables
    # and upgrading again is a no-op
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()
