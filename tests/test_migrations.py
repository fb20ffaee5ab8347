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
    # `flask db check` and `db current` say the same
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0 and "agree" in check.output, check.output
    current = runner.invoke(args=["db", "current"])
    head = current.output.split("the newest revision is ")[1].split(".")[0]
    assert current.output.startswith(f"Database is at {head};"), current.output
    # Every migration goes back down, and up again.
    down = runner.invoke(args=["db", "downgrade", "base"])
    assert down.exit_code == 0, down.output
    assert "base (empty)" in down.output
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    behind = runner.invoke(args=["db", "check"])
    assert behind.exit_code == 1 and "differ" in behind.output, behind.output
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 0
    engine.dispose()
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_licences_issued_before_terms_and_tracking_are_carried_over(
        kind: str, tmp_path: Path) -> None:
    """The revision that added licence terms and tracking keys fills both in for licences
    that existed before it."""
    url, admin = _engine_for(kind, tmp_path)
    app = make_app(tmp_path, url)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "fef6aaad218d"]).exit_code == 0
    engine = app.extensions["portal.db"].engine
    now = "2026-11-01 10:00:00+00:00"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO articles (id, slug, guid, canonical_url, url_key, title, summary, "
            "body_html, body_hash, revision, is_licensable, price_tier, created_at, updated_at) "
            "VALUES (1, 'a', 'g', 'https://x.example/a', 'x.example/a', 'A', '', '<p>a</p>', "
            f"'h', 1, true, 'standard', '{now}', '{now}')"))
        connection.execute(text(
            "INSERT INTO requests (id, reference, article_id, state, requester_name, "
            "requester_email, organisation, organisation_type, country, medium, "
            "publication_name, audience_band, territory, language, portion, term, start_date, "
            "created_at, updated_at, version) VALUES (1, 'RR-2026-00001', 1, 'licensed', 'J', "
            "'j@x.example', 'Org', 'non_profit', 'NO', 'website', 'P', 'under_10k', "
            "'worldwide', 'original', 'full', 'perpetual', '2026-11-01', "
            f"'{now}', '{now}', 3)"))
        for number in (1, 2):
            if number == 2:
                connection.execute(text(
                    "INSERT INTO requests (id, reference, article_id, state, requester_name, "
                    "requester_email, organisation, organisation_type, country, medium, "
                    "publication_name, audience_band, territory, language, portion, term, "
                    "start_date, created_at, updated_at, version) SELECT 2, 'RR-2026-00002', "
                    "article_id, state, requester_name, requester_email, organisation, "
                    "organisation_type, country, medium, publication_name, audience_band, "
                    "territory, language, portion, term, start_date, created_at, updated_at, "
                    "version FROM requests WHERE id = 1"))
            connection.execute(text(
                "INSERT INTO licences (id, number, request_id, article_id, article_revision, "
                "licensee, medium, publication_name, audience_band, territory, language, "
                "portion, term, starts_on, fee_minor, currency, status, issued_at, updated_at, "
                f"version) VALUES ({number}, 'LIC-2026-00000{number}', {number}, 1, 1, 'Org', "
                "'website', 'P', 'under_10k', 'worldwide', 'original', 'full', 'perpetual', "
                f"'2026-11-01', 0, 'GBP', 'active', '{now}', '{now}', 1)"))
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT l.tracking_key, t.version FROM licences l "
            "JOIN licence_terms t ON t.id = l.terms_id ORDER BY l.id")).fetchall()
    engine.dispose()
    assert [version for _key, version in rows] == ["2026-1", "2026-1"]
    keys = [key for key, _version in rows]
    assert all(len(key) >= 20 for key in keys) and keys[0] != keys[1]
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()
