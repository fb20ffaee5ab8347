"""The security log: sign-ins (failures too), refusals, downloads of licensed copy and
certificates, and changes to what governs licensing (the rate card, staff accounts, article
rights, terms). Append-only, in UTC, for admins to read and filter.

Two ways in:
- `record(db, ...)` for a change, in the caller's transaction: the event is kept exactly
  when the change is.
- `note(...)` for what is refused or only read (a wrong password, a 403, a refused
  transition, a download): it waits until the app context ends and is then written in a
  transaction of its own, because the request's own work is usually rolled back.

The table takes no UPDATE or DELETE: a trigger refuses them, on PostgreSQL (TRUNCATE too)
and on SQLite alike; the migration installs the same triggers.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import DDL, Index, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import db as database
from portal.db import Base, utcnow
from portal.logs import redact

log = logging.getLogger(__name__)

PENDING = "security_events_pending"


@dataclass(frozen=True)
class Kind:
    category: str
    label: str


#: category -> what the filter calls it
CATEGORIES = {
    "sign-in": "Sign-ins and accounts",
    "refusal": "Refusals",
    "download": "Downloads",
    "change": "Changes",
}

#: every kind of event, its category and how the log page names it
KINDS: dict[str, Kind] = {
    "sign_in": Kind("sign-in", "Signed in"),
    "sign_in_failed": Kind("sign-in", "Sign-in failed"),
    "second_factor_failed": Kind("sign-in", "Wrong two-factor code"),
    "sign_in_throttled": Kind("sign-in", "Sign-in throttled"),
    "sign_out": Kind("sign-in", "Signed out"),
    "password_check_failed": Kind("sign-in", "Wrong password while signed in"),
    "password_changed": Kind("sign-in", "Password changed"),
    "password_reset_requested": Kind("sign-in", "Password reset link asked for"),
    "password_reset": Kind("sign-in", "Password reset by link"),
    "two_factor_on": Kind("sign-in", "Two-factor sign-in turned on"),
    "two_factor_off": Kind("sign-in", "Two-factor sign-in turned off"),
    "forbidden": Kind("refusal", "Refused: not allowed for this role"),
    "transition_refused": Kind("refusal", "Refused by the rules of the lifecycle"),
    "throttled": Kind("refusal", "Too many wrong guesses"),
    "copy_downloaded": Kind("download", "Licensed copy downloaded"),
    "certificate_downloaded": Kind("download", "Certificate downloaded"),
    "rate_card_changed": Kind("change", "Rate card changed"),
    "staff_added": Kind("change", "Staff account added"),
    "staff_role_changed": Kind("change", "Staff role changed"),
    "staff_deactivated": Kind("change", "Staff account deactivated"),
    "staff_reactivated": Kind("change", "Staff account reactivated"),
    "staff_two_factor_reset": Kind("change", "Staff two-factor reset"),
    "article_rights_changed": Kind("change", "Article rights changed"),
    "article_withdrawn": Kind("change", "Article withdrawn"),
    "terms_published": Kind("change", "Licence terms published"),
}


class SecurityEvent(Base):
    """One security event. Rows are only ever added."""

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_kind_created_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: a key of KINDS
    kind: Mapped[str] = mapped_column(String(40))
    #: "staff:<id>", "requester", "anonymous", "cli" or "system"
    actor: Mapped[str] = mapped_column(String(200))
    #: the client's address, as the proxy settings let the portal see it
    ip: Mapped[str | None] = mapped_column(String(64))
    #: what it was about: an e-mail address tried, a licence or request number, a path
    target: Mapped[str | None] = mapped_column(String(320))
    detail: Mapped[str | None] = mapped_column(Text)

    @property
    def label(self) -> str:
        known = KINDS.get(self.kind)
        return known.label if known else self.kind


# The same statements as the migration that made the table (d1f3b5c7e9a2), for databases made
# from the models (the tests', `flask db upgrade` uses the migration).
POSTGRES_APPEND_ONLY = """
CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'security_events is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER security_events_no_change BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only();
CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only();
"""
SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only (DELETE refused)'); END",
)

# (DDL formats its text with %: the message's placeholder is doubled for it)
event.listen(SecurityEvent.__table__, "after_create",
             DDL(POSTGRES_APPEND_ONLY.replace("%", "%%")).execute_if(dialect="postgresql"))
for _statement in SQLITE_APPEND_ONLY:
    event.listen(SecurityEvent.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="sqlite"))
event.listen(SecurityEvent.__table__, "before_drop",
             DDL("DROP FUNCTION IF EXISTS security_events_append_only() CASCADE")
             .execute_if(dialect="postgresql"))


def _who() -> str:
    if not has_request_context():
        return "cli"
    if current_user and current_user.is_authenticated:
        return str(current_user.actor)
    if request.path.startswith("/requests/"):
        return "requester"  # whoever holds the status link
    if request.path.startswith("/webhooks/stripe"):
        return "provider:stripe"
    return "anonymous"


def where() -> str | None:
    """The method and path of the current request, secrets masked; None outside one."""
    return f"{request.method} {redact(request.path)}" if has_request_context() else None


def _event(kind: str, actor: str | None, target: str | None, detail: str | None) -> SecurityEvent:
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    ip = (request.remote_addr or None) if has_request_context() else None
    return SecurityEvent(
        kind=kind, actor=(actor or _who())[:200], ip=ip[:64] if ip else None,
        # Paths and details never keep a status link's token (portal.logs masks them).
        target=redact(target)[:320] if target else None,
        detail=redact(detail) if detail else None, created_at=utcnow())


def record(db: Session, kind: str, *, actor: str | None = None, target: str | None = None,
           detail: str | None = None) -> None:
    """A change, logged in the caller's transaction."""
    db.add(_event(kind, actor, target, detail))


def note(kind: str, *, actor: str | None = None, target: str | None = None,
         detail: str | None = None) -> None:
    """A refusal or a read, logged once the app context ends, whatever became of its
    transaction."""
    g.setdefault(PENDING, []).append(_event(kind, actor, target, detail))


def _flush(_exc: BaseException | None) -> None:
    events: list[SecurityEvent] = g.pop(PENDING, [])
    if not events:
        return
    owned = "db_session" not in g
    db = database.session()
    try:
        # Whatever the request left open was read-only or rolled back (units of work commit
        # or roll back); ending it releases SQLite's read lock before this write.
        db.rollback()
        db.add_all(events)
        db.commit()
    except Exception:  # noqa: BLE001 - the page is answered already; the log keeps the event
        db.rollback()
        for lost in events:
            log.error("security event not stored: %s by %s from %s on %s: %s", lost.kind,
                      lost.actor, lost.ip, lost.target, lost.detail, exc_info=False)
    finally:
        if owned:
            g.pop("db_session", None)
            db.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_flush)
