"""Fixtures: an app per test on a fresh database (SQLite always, PostgreSQL when configured).

Set PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test to run every
database test on PostgreSQL too (.ci/run does).
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import portal.models  # noqa: F401  (every table on Base.metadata)
from portal import create_app
from portal.db import Base

# Shared fixtures: an SMTP server (smtp_server), staff accounts (staff_login, make_staff), a
# fake Stripe API on 127.0.0.1 (fake_stripe).
pytest_plugins = ["tests.mailserver", "tests.staff_fixtures", "tests.fake_stripe"]

# HYPOTHESIS_PROFILE=ci (.ci/run sets it): the same examples on every run, from a seed made
# from each test's name, and none replayed from a local .hypothesis folder, so that a CI run
# is reproducible. Elsewhere Hypothesis explores new examples on each run.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

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


# One statement names the tables holding rows, and only those are emptied, with DELETE: a
# TRUNCATE of every table took 50 ms even with all of them empty (it makes new files for each
# table), and most tests write to a handful. A PostgreSQL test's setup fell from about 105 ms
# to 47.
_TABLES_WITH_ROWS = " UNION ALL ".join(
    f"SELECT '{table.name}' WHERE EXISTS (SELECT FROM \"{table.name}\")"
    for table in Base.metadata.sorted_tables
)
# Every sequence drawn from since it was last reset (a rolled-back insert draws too, and
# leaves its table empty) starts again, so that each test's ids start at 1.
_RESTART_SEQUENCES = (
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def _reset_postgres(app: Flask) -> None:
    """Create the run's schema once, and empty every table before each test."""
    global _pg_schema_ready
    engine = app.extensions["portal.db"].engine
    if not _pg_schema_ready:
        _admin(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        _admin(f"CREATE SCHEMA {PG_SCHEMA}")
        Base.metadata.create_all(engine)
        _pg_schema_ready = True
    with engine.begin() as connection:
        # The security log's triggers refuse every DELETE, as they should but for the
        # tests' clean slate: triggers do not fire for this transaction (superuser only).
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        used = set(connection.execute(text(_TABLES_WITH_ROWS)).scalars())
        for table in reversed(Base.metadata.sorted_tables):  # rows that refer to others first
            if table.name in used:
                connection.execute(table.delete())
        connection.execute(text(_RESTART_SEQUENCES))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every table in an empty SQLite file, made once per worker: create_all costs a tenth
    of a second (DDL and fsyncs), a copy of its result a fraction of a millisecond."""
    path = tmp_path_factory.mktemp("sqlite-template") / "portal.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    return path


def sqlite_copy(template: Path, folder: Path, name: str = "portal.sqlite3") -> str:
    """The URL of a new SQLite database in `folder` with every table, empty."""
    path = folder / name
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with every table, empty (PostgreSQL's is emptied by the app fixture)."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        return pg_schema_url(PG_SCHEMA)
    return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)


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
