"""The unit of work: the one way the portal commits, for views, the webhook and commands.

`unit_of_work()` commits once when its block succeeds and rolls back on any error.
`attempt()` runs one action that way and says, for the person acting, what went wrong and
with which HTTP status: every error a domain raises is a DomainError carrying its status,
and a concurrent change caught by a version column or a unique key is a 409.

Network calls to providers never happen inside a unit of work: a workflow reads, ends the
transaction, calls, and records in a new one (`assert_no_transaction` checks it).
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal import db as database
from portal import security_events

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain said no. `status` is the HTTP answer; the message is for the
    person acting (it never contains secrets or internals). A refusal whose `security_event`
    is set is written to the security log when explained."""

    status = 422
    security_event: str | None = None

    @property
    def public_message(self) -> str:
        return str(self)


class Conflict(DomainError):
    """What the person acted on changed since they loaded the page (HTTP 409)."""

    status = 409

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (
            "This request changed while you were looking at it (someone else acted on it). "
            "Reload the page to see where it stands, then try again."))


BUSY = "The portal is busy; nothing was changed. Please try again in a moment."


@contextmanager
def unit_of_work(db: Session | None = None) -> Iterator[Session]:
    """Commit once on success, roll back on any error (and re-raise it)."""
    session = db if db is not None else database.session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def explain(error: BaseException) -> tuple[int, str] | None:
    """(HTTP status, message for the person acting) for an error a unit of work may raise,
    or None for a bug (which must surface as a 500)."""
    if isinstance(error, DomainError):
        if error.security_event and has_app_context():
            security_events.note(error.security_event, target=security_events.where(),
                                 detail=str(error))
        return error.status, error.public_message
    if isinstance(error, (StaleDataError, IntegrityError)):
        # A version column (or a unique key) caught a concurrent change at flush time:
        # a double click, or two people acting at once.
        return 409, str(Conflict())
    if isinstance(error, OperationalError):  # a lock not granted in time, a lost connection
        return 503, BUSY
    return None


def attempt(act: Callable[[], object], db: Session | None = None) -> tuple[int, str] | None:
    """Run `act` in a unit of work: None when it was committed, else (status, message)
    with nothing kept."""
    try:
        with unit_of_work(db):
            act()
    except Exception as error:  # noqa: BLE001 - mapped below, or re-raised
        failure = explain(error)
        if failure is None:
            raise
        return failure
    return None


def end_transaction(db: Session) -> None:
    """End whatever read-only transaction `db` holds, before a network call."""
    if db.in_transaction():
        db.rollback()


def assert_no_transaction() -> None:
    """Provider calls go through here: none may run while the app's session holds a
    transaction (it may hold row locks; a slow provider would stall everyone waiting on
    them). Raises in development and tests; logs in production."""
    if not has_app_context():
        return
    from flask import g

    session = g.get("db_session")
    if session is not None and session.in_transaction():
        message = "a provider call was made while a database transaction was open"
        if current_app.config.get("ENV") == "production":
            log.error(message)
        else:
            raise RuntimeError(message)
