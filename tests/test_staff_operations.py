"""The back office's operations page (admins): the outbox at a glance, "Send again" for
messages given up (delivered once), access and bad input; and the warning on every
back-office page while mail is failing."""

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.staff.models import StaffRole
from tests.mailserver import SmtpServer
from tests.staff_fixtures import StaffLogin, page_csrf_token
from tests.test_outbox import MAIL_FROM, queue

PAGE = "/staff/operations"
DOWN = "451 4.3.0 mail system temporarily unavailable"
WARNING = "E-mail from the portal needs attention."


@pytest.fixture
def app_overrides(smtp_server: SmtpServer) -> dict[str, object]:
    return {"MAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}?timeout=5", "MAIL_FROM": MAIL_FROM}


def given_up(db: Session, *, to: str = "editor@daily.example", written_ago: timedelta = timedelta(days=2),
             subject: str = "Your licence is ready") -> OutboxEmail:
    [row] = queue(db, to=to, at=utcnow() - written_ago, subject=subject)
    row.status, row.attempts, row.last_error = OutboxStatus.FAILED, 55, f"message refused: {DOWN}"
    db.commit()
    return row


def failing(db: Session, *, for_: timedelta, to: str = "later@example.com") -> OutboxEmail:
    [row] = queue(db, to=to, at=utcnow() - for_, subject="Quote ready")
    row.attempts, row.last_error = 4, f"message refused: {DOWN}"
    row.next_attempt_at = utcnow() + timedelta(minutes=7)
    db.commit()
    return row


def rows(db: Session) -> list[tuple[Any, ...]]:
    db.expire_all()
    found = [tuple(r) for r in db.execute(select(OutboxEmail.__table__).order_by(OutboxEmail.id))]
    db.rollback()
    return found


def post(client: FlaskClient, url: str, **data: str) -> Any:
    return client.post(url, data={"csrf_token": page_csrf_token(client, PAGE), **data})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_page_shows_what_waits_what_fails_and_what_was_given_up(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    retrying = failing(db, for_=timedelta(minutes=45))
    dead = given_up(db)
    queue(db, at=utcnow() - timedelta(hours=2))  # waiting, the oldest

    page = client.get(PAGE)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = text_of(html)
    assert "Waiting 2 messages; the oldest was written" in shown
    assert "(2 h ago)" in shown
    assert "Failing for now 1 message, being retried; failing since" in shown
    assert "Given up 1 message" in shown
    assert f"to later@example.com · #{retrying.id}" in shown
    assert f"message refused: {DOWN}" in shown
    assert f'action="/staff/operations/mail/{dead.id}/retry"' in html
    assert "Send all failed again (1)" in shown
    assert html.count('name="csrf_token"') >= 3  # sign out, send again, send all
    assert '<a href="/staff/operations" aria-current="page">Operations</a>' in html


def test_send_again_puts_a_message_back_and_it_goes_out_once(
    client: FlaskClient, db: Session, staff_login: StaffLogin, runner: FlaskCliRunner,
    smtp_server: SmtpServer,
) -> None:
    staff_login(StaffRole.ADMIN)
    dead = given_up(db)
    other = given_up(db, to="someone@else.example")

    response = post(client, f"/staff/operations/mail/{dead.id}/retry")

    assert response.status_code == 303
    assert response.headers["Location"] == PAGE
    followed = text_of(client.get(PAGE).get_data(as_text=True))
    assert ("The e-mail “Your licence is ready” to editor@daily.example is back in the queue: it "
            "goes out with the outbox's next pass.") in followed
    db.refresh(dead)
    assert (dead.status, dead.attempts, dead.last_error) == (OutboxStatus.PENDING, 0, None)
    db.refresh(other)
    assert other.status == OutboxStatus.FAILED

    for _ in range(2):
        assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    assert smtp_server.mailbox.message_ids() == [dead.message_id]
    db.refresh(dead)
    assert dead.status == OutboxStatus.SENT

    # The same button, clicked again from a stale page: refused, nothing sent twice.
    before = rows(db)
    again = post(client, f"/staff/operations/mail/{dead.id}/retry")
    assert again.status_code == 409
    assert (f"Message {dead.id} to editor@daily.example was sent: only failed messages can be "
            "sent again; nothing was re-queued.") in text_of(again.get_data(as_text=True))
    assert rows(db) == before


def test_send_all_failed_again(client: FlaskClient, db: Session, staff_login: StaffLogin) -> None:
    staff_login(StaffRole.ADMIN)
    dead = [given_up(db, to=f"r{n}@example.com") for n in range(3)]
    sent = queue(db)[0]
    sent.status = OutboxStatus.SENT
    db.commit()

    response = post(client, "/staff/operations/mail/retry-all")

    assert response.status_code == 303
    assert "3 e-mails are back in the queue: they go out with the outbox's next pass." in text_of(
        client.get(PAGE).get_data(as_text=True))
    db.expire_all()
    assert {db.get(OutboxEmail, row.id).status for row in dead} == {OutboxStatus.PENDING}  # type: ignore[union-attr]
    assert db.get(OutboxEmail, sent.id).status == OutboxStatus.SENT  # type: ignore[union-attr]

    none_left = post(client, "/staff/operations/mail/retry-all")
    assert none_left.status_code == 303
    assert "There was no given-up e-mail to send again." in client.get(PAGE).get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/staff/operations/mail/999/retry", "/staff/operations/mail/0/retry",
    "/staff/operations/mail/99999999999/retry", "/staff/operations/mail/-1/retry",
    "/staff/operations/mail/abc/retry", "/staff/operations/mail//retry",
])
def test_bad_ids_are_404_and_change_nothing(
    client: FlaskClient, db: Session, staff_login: StaffLogin, path: str
) -> None:
    staff_login(StaffRole.ADMIN)
    given_up(db)
    before = rows(db)

    response = post(client, path)

    assert response.status_code == 404
    assert rows(db) == before


def test_a_message_still_queued_is_not_sent_again(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    row = failing(db, for_=timedelta(minutes=5))
    before = rows(db)

    response = post(client, f"/staff/operations/mail/{row.id}/retry")

    assert response.status_code == 409
    assert "is still queued (it will be tried again by itself)" in response.get_data(as_text=True)
    assert rows(db) == before


def test_a_form_without_its_csrf_token_is_refused(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    dead = given_up(db)
    before = rows(db)

    for path in (f"/staff/operations/mail/{dead.id}/retry", "/staff/operations/mail/retry-all"):
        assert client.post(path).status_code == 400
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
    assert rows(db) == before


@pytest.mark.parametrize("role", [StaffRole.VIEWER, StaffRole.LICENSING])
def test_only_admins_may_open_the_page_or_send_again(
    client: FlaskClient, db: Session, staff_login: StaffLogin, role: StaffRole
) -> None:
    staff_login(role)
    dead = given_up(db)
    before = rows(db)
    token = page_csrf_token(client, "/staff/")

    assert client.get(PAGE).status_code == 403
    for path in (f"/staff/operations/mail/{dead.id}/retry", "/staff/operations/mail/retry-all"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403
    assert rows(db) == before
    assert 'href="/staff/operations"' not in client.get("/staff/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, db: Session) -> None:
    response = client.get(PAGE)
    assert response.status_code in (302, 303)
    assert "/staff/login" in response.headers["Location"]


# --- the warning on every back-office page ----------------------------------------------------

@pytest.mark.parametrize(("role", "link"), [(StaffRole.ADMIN, True), (StaffRole.LICENSING, False),
                                            (StaffRole.VIEWER, False)])
def test_staff_are_warned_on_every_page_when_mail_has_failed_for_over_30_minutes(
    client: FlaskClient, db: Session, staff_login: StaffLogin, role: StaffRole, link: bool
) -> None:
    staff_login(role)
    failing(db, for_=timedelta(minutes=31))

    for path in ("/staff/", "/staff/rate-card"):
        shown = text_of(client.get(path).get_data(as_text=True))
        assert WARNING in shown
        assert "1 message is failing and being retried (for 31 min); 1 waiting in all." in shown
        assert ("Open the operations page to see why and to send them again." in shown) is link
        assert ("An administrator can see why, and send them again, on the operations page."
                in shown) is not link


@pytest.mark.parametrize(("make", "warned"), [
    (lambda db: None, False),
    (lambda db: failing(db, for_=timedelta(minutes=29)), False),
    (lambda db: failing(db, for_=timedelta(minutes=31)), True),
    (lambda db: given_up(db, written_ago=timedelta(days=2)), True),
    (lambda db: given_up(db, written_ago=timedelta(days=8)), False),
    (lambda db: queue(db, at=utcnow() - timedelta(hours=5)), False),  # waiting, not failing
], ids=["healthy", "failing-29-min", "failing-31-min", "given-up-2-days-ago",
        "given-up-8-days-ago", "waiting-not-failing"])
def test_the_warning_shows_only_when_mail_needs_attention(
    client: FlaskClient, db: Session, staff_login: StaffLogin, make: Any, warned: bool
) -> None:
    staff_login(StaffRole.ADMIN)
    make(db)
    assert (WARNING in client.get("/staff/").get_data(as_text=True)) is warned


def test_the_sign_in_page_shows_no_warning(client: FlaskClient, db: Session) -> None:
    failing(db, for_=timedelta(hours=3))
    assert WARNING not in client.get("/staff/login").get_data(as_text=True)
