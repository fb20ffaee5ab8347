"""The security log: sign-ins (failures too), refusals, downloads and changes are kept, in
UTC, append-only (the database refuses UPDATE and DELETE), and admins read them filtered."""

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from portal.licences.services import publish_terms
from portal.licensing.ratecard import default_rate_card, save_rate_card
from portal.security_events import KINDS, SecurityEvent
from portal.staff.models import StaffRole
from tests.conftest import make_app
from tests.factories import make_article
from tests.payments_support import Buyer, quoted_request
from tests.staff_fixtures import (
    STAFF_PASSWORD,
    StaffLogin,
    make_staff,
    page_csrf_token,
    sign_in,
)
from tests.test_exposure import withdraw
from tests.test_licences import licensed
from tests.test_migrations import SCHEMA, _engine_for
from tests.test_staff_two_factor import enrol, send_code

LOG = "/staff/security-log"
EMAIL = "ada@northernledger.example"
AWAY = {"REMOTE_ADDR": "203.0.113.9"}


def events(db: Session, *kinds: str) -> list[SecurityEvent]:
    """The log's rows (of `kinds`, if given), oldest first; the read ends at once."""
    db.expire_all()
    statement = select(SecurityEvent).order_by(SecurityEvent.id)
    if kinds:
        statement = statement.where(SecurityEvent.kind.in_(kinds))
    rows = list(db.scalars(statement))
    db.rollback()
    return rows


SIGN_IN_KINDS = ("sign_in", "sign_in_failed", "second_factor_failed", "sign_out")


def test_sign_ins_are_logged_failures_too(client: FlaskClient, db: Session) -> None:
    user = make_staff(db, EMAIL, StaffRole.ADMIN)
    assert sign_in(client, EMAIL, "not the password", environ_base=AWAY).status_code == 401
    assert sign_in(client, "nobody@example.org", STAFF_PASSWORD,
                   environ_base=AWAY).status_code == 401
    assert sign_in(client, EMAIL, environ_base=AWAY).status_code == 303
    token = page_csrf_token(client, "/staff/")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303

    logged = [(e.kind, e.actor, e.ip, e.target) for e in events(db, *SIGN_IN_KINDS)]
    assert logged == [
        ("sign_in_failed", "anonymous", "203.0.113.9", EMAIL),
        ("sign_in_failed", "anonymous", "203.0.113.9", "nobody@example.org"),
        ("sign_in", user.actor, "203.0.113.9", EMAIL),
        ("sign_out", user.actor, "127.0.0.1", EMAIL),
    ]
    # in UTC, and now
    for event in events(db, *SIGN_IN_KINDS):
        assert event.created_at.tzinfo == UTC
        assert datetime.now(UTC) - event.created_at < timedelta(minutes=1)
    # the password tried is never kept
    assert not any("not the password" in repr(tuple(row)) for row in
                   db.execute(select(SecurityEvent.__table__)))


def test_a_wrong_second_factor_and_a_recovery_code_are_logged(
        client: FlaskClient, db: Session, staff_login: StaffLogin) -> None:
    user = staff_login(StaffRole.LICENSING, email=EMAIL)
    _secret, codes = enrol(client)
    client.post("/staff/logout", data={"csrf_token": page_csrf_token(client, "/staff/")})
    assert sign_in(client, EMAIL).status_code == 303  # on to the code
    assert send_code(client, "000000").status_code == 401
    assert send_code(client, codes[0]).status_code == 303
    logged = [(e.kind, e.actor, e.detail) for e in events(db, *SIGN_IN_KINDS, "two_factor_on")]
    assert logged[-4:] == [
        ("two_factor_on", user.actor, None),
        ("sign_out", user.actor, None),
        ("second_factor_failed", user.actor, "the password was right; the code was not"),
        ("sign_in", user.actor, "with password and a recovery code"),
    ]


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"STAFF_LOGIN_RATE_LIMIT_ACCOUNT": "3 per 10 minutes"}


def test_throttled_sign_ins_are_logged(client: FlaskClient, db: Session) -> None:
    make_staff(db, EMAIL)
    answers = [sign_in(client, EMAIL, "wrong guess number one").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    [throttled] = events(db, "sign_in_throttled")
    assert throttled.target == "POST /staff/login" and throttled.actor == "anonymous"
    assert throttled.detail == "limit: 3 per 10 minute"
    assert len(events(db, "sign_in_failed")) == 3


def test_a_refused_transition_is_logged_without_the_status_token(
        app: Flask, db: Session) -> None:
    _request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    buyer.csrf()  # read while the page still has its forms
    assert buyer.post("withdraw").status_code == 303
    assert buyer.post("withdraw").status_code == 409  # a second click, or another tab
    [event] = events(db, "transition_refused")
    assert (event.actor, event.target) == ("requester", "POST /requests/…/withdraw")
    assert event.detail == "You cannot withdraw a request that is withdrawn."
    assert not any(buyer.token in repr(tuple(row))
                   for row in db.execute(select(SecurityEvent.__table__)))


def test_an_authorisation_failure_is_logged(client: FlaskClient, db: Session,
                                            staff_login: StaffLogin) -> None:
    user = staff_login(StaffRole.VIEWER)
    assert client.get(LOG).status_code == 403
    [event] = events(db, "forbidden")
    assert (event.actor, event.target, event.detail) == (
        user.actor, f"GET {LOG}", "needs the admin role; has viewer")


def test_changes_to_staff_rates_rights_and_terms_are_logged(
        app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin) -> None:
    admin = staff_login(StaffRole.ADMIN)
    added = client.post("/staff/users", data={
        "email": "ola@northernledger.example", "name": "Ola", "role": "licensing",
        "password": "a long enough passphrase",
        "csrf_token": page_csrf_token(client, "/staff/users")})
    assert added.status_code == 303
    article = make_article(db)
    rights = f"/staff/articles/{article.id}"
    saved = client.post(rights, data={
        "rights_holder": "", "price_tier": "premium", "is_licensable": "y",
        "csrf_token": page_csrf_token(client, rights)})
    assert saved.status_code == 303
    with app.app_context():
        session = app.extensions["portal.db"].sessionmaker()
        card = default_rate_card("GBP")
        save_rate_card(session, card, actor=admin.actor)
        save_rate_card(session, replace(card, minimum_minor=card.minimum_minor * 2,
                                        base_fees={**card.base_fees, "print": 99900}),
                       actor=admin.actor)
        publish_terms(session, "2027-1", "New terms.", actor=admin.actor)
        session.commit()
        session.close()
    withdraw(app, db, article.id, reason="Court order 12")

    logged = {e.kind: e for e in events(db)}
    assert logged["staff_added"].target == "ola@northernledger.example"
    assert logged["staff_added"].detail == "as licensing" and logged["staff_added"].actor == admin.actor
    assert logged["article_rights_changed"].target == f"article {article.id}"
    assert "tier standard → premium" in logged["article_rights_changed"].detail
    rate_changes = [e.detail for e in events(db, "rate_card_changed")]
    assert rate_changes[-1] == (f"minimum_minor {card.minimum_minor} → {card.minimum_minor * 2}; "
                                f"medium/print {card.base_fees['print']} → 99900")
    assert logged["terms_published"].target == "terms 2027-1"
    assert logged["article_withdrawn"].detail.endswith(": Court order 12")


def test_a_command_line_change_is_logged_as_such(runner: FlaskCliRunner, db: Session,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_STAFF_PASSWORD", "a long enough passphrase")
    result = runner.invoke(args=["staff", "create", "cli@northernledger.example", "--role", "viewer"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["staff", "deactivate", "cli@northernledger.example"]).exit_code == 0
    logged = [(e.kind, e.actor, e.ip, e.target) for e in events(db)]
    assert logged == [
        ("staff_added", "cli", None, "cli@northernledger.example"),
        ("staff_deactivated", "cli", None, "cli@northernledger.example"),
    ]


def _one_event(app: Flask) -> None:
    with app.app_context():
        session = app.extensions["portal.db"].sessionmaker()
        session.add(SecurityEvent(kind="sign_in", actor="staff:1", target=EMAIL))
        session.commit()
        session.close()


@pytest.mark.parametrize("statement", [
    "UPDATE security_events SET actor = 'staff:2'",
    "DELETE FROM security_events",
])
def test_the_database_refuses_to_change_or_delete_an_event(
        app: Flask, db: Session, statement: str) -> None:
    _one_event(app)
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(text(statement))
    db.rollback()
    assert [(e.actor, e.target) for e in events(db)] == [("staff:1", EMAIL)]


def test_the_control_without_the_triggers_the_same_change_goes_through(
        app: Flask, db: Session) -> None:
    """(Shows that the test above can fail: the triggers, not something else, refuse.)"""
    _one_event(app)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off
    else:
        db.execute(text("DROP TRIGGER security_events_no_update"))
    db.execute(text("UPDATE security_events SET actor = 'staff:2'"))
    db.rollback()


def test_on_postgresql_truncate_is_refused_too(app: Flask, db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's (SQLite has none)")
    _one_event(app)
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(text("TRUNCATE security_events"))
    db.rollback()
    assert len(events(db)) == 1


def test_an_event_that_cannot_be_stored_is_written_to_the_log(
        app: Flask, client: FlaskClient, db: Session, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    make_staff(db, EMAIL)
    original = Session.commit

    def failing_commit(self: Session) -> None:
        if any(isinstance(row, SecurityEvent) for row in self.new):
            raise DatabaseError("INSERT", {}, Exception("disk full"))
        original(self)

    monkeypatch.setattr(Session, "commit", failing_commit)
    with caplog.at_level(logging.ERROR, logger="portal.security_events"):
        assert sign_in(client, EMAIL, "not the password").status_code == 401
    assert events(db) == []
    assert f"security event not stored: sign_in_failed by anonymous from 127.0.0.1 on {EMAIL}" \
        in caplog.text


# --- the page -----------------------------------------------------------------------------

def test_admins_read_and_filter_the_log(client: FlaskClient, db: Session,
                                        staff_login: StaffLogin) -> None:
    make_staff(db, EMAIL)
    sign_in(client, EMAIL, "not the password", environ_base=AWAY)
    admin = staff_login(StaffRole.ADMIN)
    page = client.get(LOG).get_data(as_text=True)
    assert "<h1>Security log</h1>" in page
    assert "Sign-in failed" in page and "from 203.0.113.9" in page and EMAIL in page
    # staff are named by their address, not their id
    assert admin.email in page and f">{admin.actor}<" not in page

    refusals = client.get(LOG, query_string={"category": "refusal"}).get_data(as_text=True)
    assert "No event matches these filters." in refusals
    failed = client.get(LOG, query_string={"kind": "sign_in_failed"}).get_data(as_text=True)
    assert "Sign-in failed" in failed and "<strong>Signed in</strong>" not in failed
    found = client.get(LOG, query_string={"q": "203.0.113"}).get_data(as_text=True)
    assert "Sign-in failed" in found and "<strong>Signed in</strong>" not in found
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    later = client.get(LOG, query_string={"from": tomorrow}).get_data(as_text=True)
    assert "No event matches these filters." in later


def test_older_events_are_a_page_away(app: Flask, client: FlaskClient, db: Session,
                                      staff_login: StaffLogin) -> None:
    with app.app_context():
        session = app.extensions["portal.db"].sessionmaker()
        session.add_all(SecurityEvent(kind="sign_in_failed", actor="anonymous",
                                      target=f"guess{n}@example.org") for n in range(130))
        session.commit()
        session.close()
    staff_login(StaffRole.ADMIN)
    first = client.get(LOG).get_data(as_text=True)
    assert "guess129@example.org" in first and "guess29@example.org" not in first
    assert "Older events" in first
    older = client.get(LOG, query_string={"before": 31}).get_data(as_text=True)
    assert "guess29@example.org" in older and "guess30@example.org" not in older
    assert "Older events" not in older and "← Newest" in older


@pytest.mark.parametrize("query", [
    {"kind": "nonsense"}, {"category": "<script>"}, {"from": "2026-13-45"},
    {"to": "9999-12-31"}, {"before": "-4"}, {"before": "99999999999999999999999"},
    {"q": "%_\\'\""}, {"q": "x" * 5000},
])
def test_hostile_filters_are_ignored_or_harmless(client: FlaskClient, staff_login: StaffLogin,
                                                 query: dict[str, str]) -> None:
    staff_login(StaffRole.ADMIN)
    response = client.get(LOG, query_string=query)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>" not in body
    if set(query) & {"kind", "category", "from", "to"}:
        assert "were not understood and were ignored" in body


def test_every_kind_has_a_category_the_filter_knows() -> None:
    from portal.security_events import CATEGORIES
    assert {known.category for known in KINDS.values()} == set(CATEGORIES)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_migrated_database_refuses_changes_too(kind: str, tmp_path: Path) -> None:
    """`flask db upgrade` installs the same triggers as the models (production's databases are
    made by the migrations)."""
    url, admin = _engine_for(kind, tmp_path)
    app = make_app(tmp_path, url)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    _one_event(app)
    engine = app.extensions["portal.db"].engine
    statements = ["UPDATE security_events SET actor = 'x'", "DELETE FROM security_events"]
    if kind == "postgresql":
        statements.append("TRUNCATE security_events")
    try:
        for statement in statements:
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            admin.dispose()


def test_downloads_of_the_copy_and_the_certificate_are_logged(app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db)
    for suffix in ("html", "txt", "pdf"):
        response = buyer.client.get(f"{buyer.url}/licence/{licence.number}.{suffix}",
                                    environ_base=AWAY)
        assert response.status_code == 200
    logged = [(e.kind, e.actor, e.ip, e.target, e.detail.split(" (")[0])
              for e in events(db, "copy_downloaded", "certificate_downloaded")]
    assert logged == [
        ("copy_downloaded", "requester", "203.0.113.9", licence.number, f"{licence.number}.html"),
        ("copy_downloaded", "requester", "203.0.113.9", licence.number, f"{licence.number}.txt"),
        ("certificate_downloaded", "requester", "203.0.113.9", licence.number,
         f"{licence.number}.pdf"),
    ]
    # once revoked, a download is refused, and that is logged as a refusal
    withdraw(app, db, licence.article_id)
    assert buyer.client.get(f"{buyer.url}/licence/{licence.number}.pdf").status_code == 403
    refused = events(db, "forbidden")[-1]
    assert (refused.target, refused.detail) == (
        licence.number, "download refused: the licence is revoked")
