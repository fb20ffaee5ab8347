"""No e-mail is lost to an outage: the retry schedule on a simulated clock against a real SMTP
server (aiosmtpd answering 451 while "down"), messages given up and sent again with
`outbox retry`, senders racing on PostgreSQL over parallel connections (with a control that
races without the claim), the outbox's health and the desk's alert."""

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal import create_app
from portal.db import utcnow
from portal.notifications import sender
from portal.notifications.health import (
    ALERT_TEMPLATE,
    alert_staff_if_failing,
    mail_health,
    oldest_unsent_age,
)
from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.notifications.sender import (
    LEASE,
    MAX_RETRY_DELAY,
    RetrySchedule,
    SendReport,
    delivery_settings,
    send_due,
)
from tests.mailserver import SmtpServer
from tests.test_outbox import MAIL_FROM, T0, queue

DOWN = "451 4.3.0 mail system temporarily unavailable"
DESK = "desk@northernledger.example"


@pytest.fixture
def app_overrides(smtp_server: SmtpServer) -> dict[str, object]:
    return {"MAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}?timeout=5", "MAIL_FROM": MAIL_FROM,
            "STAFF_NOTIFY_EMAILS": [DESK]}


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.extensions["portal.db"].sessionmaker
    return factory


@functools.cache
def shipped_settings() -> dict[str, Any]:
    """send_due's settings as the portal ships them (config/default.py)."""
    app = create_app({"ENV": "test", "TESTING": True, "DATABASE_URL": "sqlite://"})
    return delivery_settings(app.config)


def send(db: Session, smtp: SmtpServer, now: datetime, **settings: Any) -> SendReport:
    return send_due(db, smtp.transport, mail_from=MAIL_FROM, now=now,
                    **(shipped_settings() | settings))


def statuses(db: Session) -> Counter[OutboxStatus]:
    db.expire_all()
    return Counter(db.scalars(select(OutboxEmail.status)).all())


# --- the schedule -----------------------------------------------------------------------------

def test_the_shipped_schedule_keeps_trying_for_two_days_at_most_an_hour_apart() -> None:
    app = create_app({"ENV": "test", "TESTING": True, "DATABASE_URL": "sqlite://"})
    schedule = RetrySchedule.from_config(app.config)

    assert schedule.span() >= timedelta(hours=24)
    assert timedelta(hours=48) <= schedule.span() < timedelta(hours=49)
    assert all(schedule.delay(n) <= timedelta(hours=1) for n in range(1, 200))
    # The ceiling on attempts is not what ends the retries: the two days are.
    assert schedule.last_attempt() < schedule.max_attempts


def test_retry_schedule_counts_the_waits_it_made() -> None:
    schedule = RetrySchedule(base_seconds=30, max_delay=timedelta(hours=1),
                             give_up_after=timedelta(hours=48), max_attempts=100)
    assert schedule.waited(1) == timedelta(0)
    assert schedule.waited(2) == timedelta(seconds=30)
    # 30 s + 1 + 2 + 4 + 8 + 16 + 32 min (3810 s), then an hour per attempt
    assert schedule.waited(8) == timedelta(seconds=3810)
    assert schedule.waited(10) == timedelta(seconds=3810 + 2 * 3600)
    assert not schedule.is_last(54)
    assert schedule.is_last(55)
    assert schedule.last_attempt() == 55
    assert schedule.span() == timedelta(seconds=3810 + 47 * 3600)
    assert RetrySchedule(max_attempts=3).last_attempt() == 3


# --- a simulated outage -----------------------------------------------------------------------

def test_smtp_down_for_two_hours_loses_nothing_and_sends_each_message_once(
    app: Flask, db: Session, smtp_server: SmtpServer
) -> None:
    # Mail keeps being written through the outage (every 10 minutes) and after it.
    written = [T0 + timedelta(minutes=10 * k) for k in range(12)] + [
        T0 + timedelta(hours=2, minutes=10), T0 + timedelta(hours=3)]
    rows = [row for at in written for row in queue(db, at=at, to=f"reader{at:%H%M}@example.com")]
    recovery = T0 + timedelta(hours=2)
    alerts_at: list[datetime] = []

    now = T0
    while now <= T0 + timedelta(hours=6):
        smtp_server.mailbox.down = DOWN if now < recovery else None
        send(db, smtp_server, now)
        # What `outbox send` does after each pass.
        with app.app_context():
            if alert_staff_if_failing(db, now, [DESK]):
                alerts_at.append(now)
            db.commit()
        if now == recovery - timedelta(minutes=5):
            during = mail_health(db, now)
            assert (during.failing, during.dead) == (12 + 1, 0)  # the desk's alert waits too
            assert during.failing_since == T0
        now += timedelta(minutes=5)

    assert statuses(db) == {OutboxStatus.SENT: len(rows) + 1}  # and the desk's alert
    received = Counter(smtp_server.mailbox.message_ids())
    assert set(received.values()) == {1}
    assert {row.message_id for row in rows} <= set(received)
    for row in rows:
        db.refresh(row)
        assert row.sent_at is not None
        # Within an hour (the longest wait) and a pass of the server coming back.
        assert row.sent_at <= max(row.created_at, recovery) + MAX_RETRY_DELAY + timedelta(minutes=5)
    assert any(row.attempts > 5 for row in rows)  # it was a real outage, retried many times
    # One alert for the outage, as soon as it had lasted longer than 30 minutes.
    assert alerts_at == [T0 + timedelta(minutes=35)]
    [alert] = db.scalars(select(OutboxEmail).where(OutboxEmail.template == ALERT_TEMPLATE)).all()
    assert alert.to_address == DESK
    assert alert.subject.startswith("E-mail from the licensing portal has been failing for 35 min")
    assert "/staff/operations" in alert.text_body


def test_a_message_failing_for_two_days_is_given_up_and_outbox_retry_sends_it_once(
    db: Session, runner: FlaskCliRunner, smtp_server: SmtpServer
) -> None:
    [row] = queue(db)
    smtp_server.mailbox.down = DOWN
    now = T0
    while now <= T0 + timedelta(hours=50):
        send(db, smtp_server, now)
        db.refresh(row)
        if now <= T0 + timedelta(hours=47):
            assert row.status == OutboxStatus.PENDING, f"given up after {now - T0}"
        now += timedelta(minutes=10)

    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 55)
    assert row.last_error == f"message refused: {DOWN}"
    assert smtp_server.mailbox.received == []

    listing = runner.invoke(args=["outbox", "retry"])
    assert listing.exit_code == 0, listing.output
    assert "1 failed message (id, written at UTC, to, subject, why):" in listing.output
    assert f"{row.id:>6}  2030-05-04 12:00  reader@example.com  Your licence is ready (after 55 " \
           f"attempts): message refused: {DOWN}" in listing.output
    assert "outbox retry --id N" in listing.output
    assert statuses(db) == {OutboxStatus.FAILED: 1}  # listing changes nothing

    smtp_server.mailbox.down = None
    requeued = runner.invoke(args=["outbox", "retry", "--id", str(row.id)])
    assert requeued.exit_code == 0, requeued.output
    assert requeued.output.splitlines() == [
        f"  queued   {row.id}  reader@example.com  Your licence is ready",
        "Re-queued 1 message: the next `outbox send` delivers it.",
    ]
    db.refresh(row)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 0, None)

    for _ in range(2):
        sent = runner.invoke(args=["outbox", "send"])
        assert sent.exit_code == 0, sent.output
    assert smtp_server.mailbox.message_ids() == [row.message_id]
    db.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)


def test_a_server_refusal_still_fails_at_once(db: Session, smtp_server: SmtpServer) -> None:
    smtp_server.mailbox.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    [row] = queue(db, to="gone@example.com")

    assert send(db, smtp_server, T0) == SendReport(failed=1)
    db.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)


# --- outbox retry: bad input ------------------------------------------------------------------

@pytest.fixture
def three(db: Session, smtp_server: SmtpServer) -> tuple[OutboxEmail, OutboxEmail, OutboxEmail]:
    """A message given up, one sent, one still queued."""
    smtp_server.mailbox.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    [dead] = queue(db, to="gone@example.com", at=utcnow())
    [sent] = queue(db, to="sent@example.com", at=utcnow())
    send(db, smtp_server, utcnow())
    [waiting] = queue(db, to="later@example.com", at=utcnow() + timedelta(hours=1))
    for row in (dead, sent):
        db.refresh(row)
    assert (dead.status, sent.status) == (OutboxStatus.FAILED, OutboxStatus.SENT)
    return dead, sent, waiting


def snapshot(db: Session) -> list[tuple[Any, ...]]:
    db.expire_all()
    rows = [tuple(r) for r in db.execute(select(OutboxEmail.__table__).order_by(OutboxEmail.id))]
    db.rollback()
    return rows


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--id", "999"], 1, "Error: No message with the id 999: nothing was re-queued."),
    (["--id", "0"], 1, "Error: No message with the id 0: nothing was re-queued."),
    (["--id", "99999999999"], 1, "No message with the id 99999999999"),
    (["--id", "-4"], 1, "No message with the id -4"),
    (["--id", "abc"], 2, "Invalid value for '--id': 'abc' is not a valid integer."),
    (["--id", "{dead}", "--id", "999"], 1, "No message with the id 999"),
    (["--id", "{sent}"], 1, "Error: Message {sent} to sent@example.com was sent: only failed "
                            "messages can be sent again; nothing was re-queued."),
    (["--id", "{waiting}"], 1, "is still queued (it will be tried again by itself)"),
    (["--id", "{dead}", "--all-failed"], 2, "Give either --id N"),
])
def test_outbox_retry_refuses_bad_ids_clearly_and_changes_nothing(
    db: Session, runner: FlaskCliRunner, three: tuple[OutboxEmail, ...], args: list[str],
    code: int, says: str,
) -> None:
    ids = {"dead": three[0].id, "sent": three[1].id, "waiting": three[2].id}
    before = snapshot(db)

    result = runner.invoke(args=["outbox", "retry", *[a.format(**ids) for a in args]])

    assert result.exit_code == code, result.output
    assert says.format(**ids) in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert snapshot(db) == before


def test_outbox_retry_all_failed_requeues_only_the_failed(
    db: Session, runner: FlaskCliRunner, three: tuple[OutboxEmail, ...]
) -> None:
    dead, sent, waiting = three
    result = runner.invoke(args=["outbox", "retry", "--all-failed"])

    assert result.exit_code == 0, result.output
    assert f"  queued   {dead.id}  gone@example.com  Your licence is ready" in result.output
    assert result.output.splitlines()[-1] == "Re-queued 1 message: the next `outbox send` delivers it."
    db.expire_all()
    assert [(r.status, r.attempts) for r in (db.get(OutboxEmail, i) for i in
            (dead.id, sent.id, waiting.id)) if r] == [
        (OutboxStatus.PENDING, 0), (OutboxStatus.SENT, 1), (OutboxStatus.PENDING, 0)]

    again = runner.invoke(args=["outbox", "retry", "--all-failed"])
    assert again.exit_code == 0
    assert again.output == "No failed messages: nothing to retry.\n"
    assert runner.invoke(args=["outbox", "retry"]).output == "No failed messages: nothing to retry.\n"


# --- senders racing on PostgreSQL, over connections of their own ------------------------------

def _race(sessions: sessionmaker[Session], smtp: SmtpServer, senders: int, **settings: Any
          ) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(senders)

    def run() -> None:
        try:
            with sessions() as own:
                start.wait(timeout=10)
                send(own, smtp, T0, **settings)
        except BaseException as error:  # noqa: BLE001 - surfaced by the caller's assertion
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _on_postgresql(db: Session) -> None:
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("row locks and parallel writers: PostgreSQL only")


Claim = Callable[..., OutboxEmail | None]


def _meeting_before(claim: Claim, meeting: threading.Barrier) -> Claim:
    """The claim, entered by both senders at the same moment."""
    def claim_together(db: Session, email_id: int, **kwargs: Any) -> OutboxEmail | None:
        meeting.wait(timeout=10)
        return claim(db, email_id, **kwargs)
    return claim_together


def _no_claim(meeting: threading.Barrier) -> Claim:
    """The control: a sender that reads the row as due and takes it, with no compare-and-set
    and no lock, both senders having read it before either writes."""
    def take(db: Session, email_id: int, *, now: datetime, lease: timedelta = LEASE
             ) -> OutboxEmail | None:
        row = db.get(OutboxEmail, email_id, populate_existing=True)
        if row is None or row.status != OutboxStatus.PENDING or (
                row.locked_until is not None and row.locked_until >= now):
            return None
        meeting.wait(timeout=10)
        row.locked_until, row.attempts = now + lease, row.attempts + 1
        db.commit()
        return row
    return take


@pytest.mark.parametrize("with_claim", [True, False], ids=["claim", "control-no-claim"])
def test_two_senders_racing_for_one_row_send_it_once_only_thanks_to_the_claim(
    db: Session, sessions: sessionmaker[Session], smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch, with_claim: bool,
) -> None:
    _on_postgresql(db)
    [row] = queue(db)
    meeting = threading.Barrier(2)
    monkeypatch.setattr(sender, "claim", _meeting_before(sender.claim, meeting) if with_claim
                        else _no_claim(meeting))

    assert _race(sessions, smtp_server, 2) == []

    copies = smtp_server.mailbox.message_ids().count(row.message_id)
    assert copies == (1 if with_claim else 2)


def test_many_senders_on_postgresql_send_every_row_exactly_once(
    db: Session, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    _on_postgresql(db)
    rows = queue(db, 60)

    assert _race(sessions, smtp_server, 6, batch_size=7) == []

    received = Counter(smtp_server.mailbox.message_ids())
    assert received == Counter({row.message_id: 1 for row in rows})
    assert statuses(db) == {OutboxStatus.SENT: 60}
    assert db.scalar(select(func.max(OutboxEmail.attempts))) == 1


@pytest.fixture
def impatient_sessions(app: Flask) -> Iterator[sessionmaker[Session]]:
    """Sessions whose statements give up after waiting 2 s for a row lock (instead of
    waiting for ever): a sender that waits on another shows as an error."""
    engine: Engine = create_engine(app.config["DATABASE_URL"])

    @event.listens_for(engine, "connect")
    def _lock_timeout(connection: Any, _record: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        connection.commit()

    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def test_a_sender_skips_a_row_another_holds_without_waiting(
    db: Session, impatient_sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    _on_postgresql(db)
    first, second = queue(db, 2)
    # Another sender, mid-claim: it holds the first row's lock in an open transaction.
    with impatient_sessions() as other, impatient_sessions() as mine:
        other.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": first.id})

        assert send(mine, smtp_server, T0) == SendReport(sent=1)
        assert smtp_server.mailbox.message_ids() == [second.message_id]

        other.rollback()  # its claim came to nothing: the row is free again
        assert send(mine, smtp_server, T0) == SendReport(sent=1)
    assert smtp_server.mailbox.message_ids() == [second.message_id, first.message_id]


# --- the outbox's health and the desk's alert -------------------------------------------------

def test_mail_health_counts_waiting_failing_and_given_up(db: Session, smtp_server: SmtpServer) -> None:
    now = T0 + timedelta(days=10)
    assert mail_health(db, now).waiting == 0
    assert oldest_unsent_age(db, now) is None

    [failing] = queue(db, at=now - timedelta(minutes=50))
    smtp_server.mailbox.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    [old_dead] = queue(db, at=now - timedelta(days=9), to="gone@example.com")
    [sent] = queue(db, at=now - timedelta(days=8))
    [new_dead] = queue(db, at=now - timedelta(days=1), to="gone@example.com")
    # A pass at each row's own time; the failing one meets a 451.
    for row in (old_dead, sent, new_dead):
        send(db, smtp_server, row.created_at)
    smtp_server.mailbox.data_replies.append(DOWN)
    send(db, smtp_server, failing.created_at)
    # Written 3 hours ago, never tried: no sender has run since (it is not failing).
    queue(db, at=now - timedelta(hours=3))
    health = mail_health(db, now)

    assert (health.waiting, health.failing, health.dead, health.recent_dead) == (2, 1, 2, 1)
    assert health.oldest_unsent_at == now - timedelta(hours=3)
    assert health.oldest_unsent_age == timedelta(hours=3)
    assert health.failing_since == failing.created_at
    assert health.failing_for == timedelta(minutes=50)
    assert health.needs_attention(timedelta(minutes=30))
    assert oldest_unsent_age(db, now) == timedelta(hours=3)


def test_the_desk_is_alerted_once_per_failing_episode(app: Flask, db: Session) -> None:
    def failing_since(at: datetime) -> OutboxEmail:
        [row] = queue(db, at=at)
        row.attempts, row.last_error = 1, DOWN
        row.next_attempt_at = at + timedelta(minutes=1)
        db.commit()
        return row

    def alert(now: datetime) -> bool:
        with app.app_context():
            told = alert_staff_if_failing(db, now, [DESK, "boss@northernledger.example"],
                                          alert_after=timedelta(minutes=30))
        db.commit()
        return told

    failing_since(T0)
    assert not alert(T0 + timedelta(minutes=30))  # not longer than 30 minutes yet
    assert alert(T0 + timedelta(minutes=31))
    assert not alert(T0 + timedelta(minutes=32))
    failing_since(T0 + timedelta(minutes=40))  # more of the same outage
    assert not alert(T0 + timedelta(hours=5))

    alerts = db.scalars(select(OutboxEmail).where(OutboxEmail.template == ALERT_TEMPLATE)
                        .order_by(OutboxEmail.id)).all()
    assert [a.to_address for a in alerts] == [DESK, "boss@northernledger.example"]
    assert alerts[0].subject == ("E-mail from the licensing portal has been failing for "
                                 "31 min: please check the mail server")
    assert "Failing now: 1 message, the oldest written 2030-05-04 12:00 UTC." in alerts[0].text_body
    assert f"Last error: {DOWN}" in alerts[0].text_body
    assert "http://localhost/staff/operations" in alerts[0].html_body

    # The outage ends: everything goes out (the alerts too). The next one is a new episode.
    db.execute(OutboxEmail.__table__.update().values(status=OutboxStatus.SENT, last_error=None))
    db.commit()
    assert not alert(T0 + timedelta(hours=6))
    failing_since(T0 + timedelta(hours=7))
    assert not alert(T0 + timedelta(hours=7, minutes=20))
    assert alert(T0 + timedelta(hours=7, minutes=31))
    assert db.scalar(select(func.count()).where(OutboxEmail.template == ALERT_TEMPLATE)) == 4


def test_nobody_to_tell_means_no_alert(app: Flask, db: Session) -> None:
    [row] = queue(db, at=T0)
    row.last_error = DOWN
    db.commit()
    with app.app_context():
        assert not alert_staff_if_failing(db, T0 + timedelta(hours=1), [])


def test_each_outbox_pass_logs_one_error_while_mail_fails_and_alerts_the_desk_once(
    db: Session, runner: FlaskCliRunner, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.mailbox.down = DOWN
    queue(db, at=utcnow() - timedelta(hours=1))
    caplog.set_level(logging.ERROR)

    outputs = []
    for _ in range(2):
        result = runner.invoke(args=["outbox", "send"])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)

    errors = [r for r in caplog.records if r.name == "portal.notifications"]
    assert len(errors) == 2
    assert errors[0].levelno == logging.ERROR
    assert errors[0].getMessage().startswith("outbox: 1 e-mail failing for 60 min; 1 waiting")
    assert f"  alert    mail failing: told {DESK}" in outputs[0]
    assert "  alert    " not in outputs[1]
    assert db.scalar(select(func.count()).where(OutboxEmail.template == ALERT_TEMPLATE)) == 1

    caplog.clear()
    smtp_server.mailbox.down = None
    db.execute(OutboxEmail.__table__.update().values(next_attempt_at=utcnow()))
    db.commit()
    result = runner.invoke(args=["outbox", "send"])
    assert "Sent 2, will retry 0, failed 0." in result.output
    assert [r for r in caplog.records if r.name == "portal.notifications"] == []
