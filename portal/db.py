"""Database wiring: the declarative base, the engine per app, and the request's session.

Services receive a Session and flush; the boundary commits once, through portal.uow.
"""

from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event, make_url, text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so that migrations name the same things on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; PostgreSQL's timestamptz does. Either way the application only
    ever sees aware UTC datetimes, and a naive datetime is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; times are stored in UTC and must be aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def escape_like(text: str) -> str:
    """Text for a LIKE pattern with ESCAPE '\\': its own % and _ match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str, connect_timeout: float = 5) -> Engine:
    connect_args: dict[str, Any] = {}
    if make_url(url).get_backend_name() == "postgresql":
        # A database host that does not answer fails the request within this many seconds
        # (a 503 saying to try again) instead of holding a worker indefinitely.
        connect_args["connect_timeout"] = max(1, int(connect_timeout))
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and session factory of one app (kept in app.extensions["portal.db"])."""

    def __init__(self, url: str, connect_timeout: float = 5) -> None:
        self.engine = make_engine(url, connect_timeout)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


def init_app(app: Flask) -> None:
    app.extensions["portal.db"] = Database(
        app.config["DATABASE_URL"], float(app.config["DATABASE_CONNECT_TIMEOUT_SECONDS"]))
    app.teardown_appcontext(_close_session)


def database() -> Database:
    db: Database = current_app.extensions["portal.db"]
    return db


def session() -> Session:
    """The session of the current app context; rolled back and closed at its end."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    db_session: Session = g.db_session
    return db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
