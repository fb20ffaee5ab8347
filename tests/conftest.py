"""Fixtures: an app per test on a fresh database (SQLite always, PostgreSQL when configured).

Set PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test to run every
database test on PostgreSQL too (.ci/run does).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import portal.models  # noqa: F401  (every table on Base.metadata)
from portal import create_app
from portal.db import Base

# Shared fixtures: an SMTP server (smtp_server), staff accounts (staff_login, make_staff), a
# fake Stripe API on 127.0.0.1 (fake_stripe).
pytest_plugins = ["tests.mailserver", "tests.staff_fixtures", "tests.fake_stripe"]

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL")
PG_SKIP = (
    "PostgreSQL not configured: set PORTAL_TEST_DATABASE_URL="
    "postgresql+psycopg://postgres@127.0.0.1:5432/test to run these tests on PostgreSQL too"
)
REDIS_SKIP = (
    "Redis not configured: set PORTAL_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run the "
    "rate-limit tests against Redis too"
)
_pg_schema_ready = False


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, not once per test, which services were left out and how to include them."""
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.section("skipped tests")
        for reason, number in sorted(reasons.items()):
            terminalreporter.write_line(f"{number:4d} skipped: {reason}")


def make_app(tmp_path: Path, database_url: str, **overrides: object) -> Flask:
    config = {
        "ENV": "test",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "MAIL_URL": f"file://{tmp_path / 'mail'}",
    }
    config.update(overrides)
    return create_app(config)


def pg_schema_url(schema: str) -> str:
    """PORTAL_TEST_DATABASE_URL with its connections confined to `schema`."""
    assert PG_URL is not None
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


# Each test run works in a schema of its own, so that two runs on one database (a developer's
# and CI's, say) never empty each other's tables.
PG_SCHEMA = f"test_run_{os.getpid()}"


def _admin(statement: str) -> None:
    assert PG_URL is not None
    engine = create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if PG_URL and _pg_schema_ready:
        _admin(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def _reset_postgres(app: Flask) -> None:
    """Create the run's schema once, and empty every table before each test."""
    global _pg_schema_ready
    engine = app.extensions["portal.db"].engine
    if not _pg_schema_ready:
        _admin(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        _admin(f"CREATE SCHEMA {PG_SCHEMA}")
        Base.metadata.create_all(engine)
        _pg_schema_ready = True
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        return pg_schema_url(PG_SCHEMA)
    return f"sqlite:///{tmp_path / 'portal.sqlite3'}"


@pytest.fixture
def app_overrides() -> dict[str, object]:
    """Override in a test module to configure the app differently."""
    return {}


@pytest.fixture
def app(tmp_path: Path, database_url: str, app_overrides: dict[str, object]) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url, **app_overrides)
    engine = app.extensions["portal.db"].engine
    if engine.dialect.name == "postgresql":
        _reset_postgres(app)
    else:
        Base.metadata.create_all(engine)
    yield app
    engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session of its own, outside any app context: like a second process, it sees what
    requests committed and nothing they left uncommitted. (Push app.app_context() in a
    test that calls services directly.)"""
    session = app.extensions["portal.db"].sessionmaker()
    yield session
    session.close()


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"
