"""The outbox sender: delivery through a real SMTP server on 127.0.0.1 (aiosmtpd), retries,
permanent failures, claims by concurrent senders, the file transport and the CLI."""

import email
import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.db import utcnow
from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.notifications.sender import (
    LEASE,
    MAX_RETRY_DELAY,
    SendReport,
    claim,
    retry_delay,
    send_due,
)
from portal.notifications.transports import (
    DeliveryError,
    FileTransport,
    SmtpTransport,
    Transport,
    transport_from_url,
)
from tests.conftest import make_app
from tests.mailserver import Mailbox, SmtpServer, free_port

MAIL_FROM = "Licensing desk <licensing@example.com>"
T0 = datetime(2030, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def app_overrides(smtp_server: SmtpServer) -> dict[str, object]:
    return {"MAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}?timeout=5", "MAIL_FROM": MAIL_FROM}


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    """More sessions on the app's database: each one another sender."""
    factory: sessionmaker[Session] = app.extensions["portal.db"].sessionmaker
    return factory


def queue(db: Session, count: int = 1, *, to: str = "reader@example.com", at: datetime = T0,
          subject: str = "Your licence is ready") -> list[OutboxEmail]:
    rows = [
        OutboxEmail(
            to_address=to,
            subject=subject,
            text_body="Your licence L-2030-0001 is ready.\nDownload it from your request page.\n",
            html_body="<p>Your licence <b>L-2030-0001</b> is ready.</p>",
            template="licence_issued",
            message_id=f"<{uuid4().hex}@portal.test>",
            next_attempt_at=at,
            created_at=at,
        )
        for _ in range(count)
    ]
    db.add_all(rows)
    db.commit()
    return rows


def send(db: Session, transport: Transport, now: datetime, **settings: Any) -> SendReport:
    options: dict[str, Any] = {"mail_from": MAIL_FROM, "batch_size": 10, "max_attempts": 5,
                               "retry_base_seconds": 30} | settings
    return send_due(db, transport, now=now, **options)


def test_delivers_a_multipart_message_with_its_headers(db: Session, smtp_server: SmtpServer) -> None:
    [row] = queue(db, to="editor@daily.example", subject="Licence № 42 — approved")

    report = send(db, smtp_server.transport, T0)

    assert report == SendReport(sent=1)
    [received] = smtp_server.mailbox.received
    assert received.mail_from == "licensing@example.com"
    assert received.rcpt_tos == ["editor@daily.example"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    # CRLF on the wire, as SMTP wants
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == row.text_body  # type: ignore[union-attr]
    assert "<b>L-2030-0001</b>" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert message["From"] == MAIL_FROM
    assert message["To"] == "editor@daily.example"
    assert message["Subject"] == "Licence № 42 — approved"
    assert message["Message-ID"] == row.message_id
    assert message["Date"].datetime == T0
    db.refresh(row)
    assert (row.status, row.attempts, row.sent_at, row.locked_until) == (OutboxStatus.SENT, 1, T0, None)


def test_temporary_failure_is_retried_later_and_delivered_once(db: Session, smtp_server: SmtpServer) -> None:
    smtp_server.mailbox.data_replies.append("451 4.3.0 try again later")
    [row] = queue(db)

    assert send(db, smtp_server.transport, T0) == SendReport(retried=1)
    db.refresh(row)
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at == T0 + timedelta(seconds=30)
    assert row.last_error == "message refused: 451 4.3.0 try again later"
    assert row.locked_until is None

    # Not before its time, however often the sender runs.
    assert send(db, smtp_server.transport, T0 + timedelta(seconds=29)) == SendReport()
    assert smtp_server.mailbox.received == []

    assert send(db, smtp_server.transport, T0 + timedelta(seconds=30)) == SendReport(sent=1)
    assert send(db, smtp_server.transport, T0 + timedelta(days=1)) == SendReport()
    assert smtp_server.mailbox.message_ids() == [row.message_id]
    db.refresh(row)
    assert (row.status, row.attempts, row.sent_at) == (OutboxStatus.SENT, 2, T0 + timedelta(seconds=30))


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "status", "error"),
    [
        ("550 5.1.1 no such user", None, OutboxStatus.FAILED, "recipient refused: 550 5.1.1 no such user"),
        (None, "554 5.6.0 message rejected", OutboxStatus.FAILED,
         "message refused: 554 5.6.0 message rejected"),
        ("450 4.2.0 greylisted", None, OutboxStatus.PENDING, "recipient refused: 450 4.2.0 greylisted"),
    ],
)
def test_smtp_refusals_5xx_are_final_4xx_are_retried(
    db: Session, smtp_server: SmtpServer, rcpt_reply: str | None, data_reply: str | None,
    status: OutboxStatus, error: str,
) -> None:
    if rcpt_reply:
        smtp_server.mailbox.rcpt_replies["gone@example.com"] = rcpt_reply
    if data_reply:
        smtp_server.mailbox.data_replies.append(data_reply)
    [row] = queue(db, to="gone@example.com")

    send(db, smtp_server.transport, T0)

    db.refresh(row)
    assert (row.status, row.attempts, row.last_error) == (status, 1, error)
    # A failed message is never tried again.
    later = send(db, smtp_server.transport, T0 + timedelta(days=1))
    assert later == (SendReport() if status == OutboxStatus.FAILED else SendReport(retried=1))


def test_gives_up_after_max_attempts_with_doubling_delays(db: Session, smtp_server: SmtpServer) -> None:
    smtp_server.mailbox.data_replies.extend(["452 4.3.1 out of storage"] * 10)
    [row] = queue(db)
    now = T0
    for attempt, wait in [(1, 30), (2, 60)]:
        assert send(db, smtp_server.transport, now, max_attempts=3) == SendReport(retried=1)
        db.refresh(row)
        assert row.attempts == attempt
        assert row.next_attempt_at == now + timedelta(seconds=wait)
        now = row.next_attempt_at

    assert send(db, smtp_server.transport, now, max_attempts=3) == SendReport(failed=1)
    db.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 3)
    assert "452" in (row.last_error or "")
    assert send(db, smtp_server.transport, now + timedelta(days=1), max_attempts=3) == SendReport()
    assert smtp_server.mailbox.received == []


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, timedelta(seconds=30)), (2, timedelta(seconds=60)), (5, timedelta(minutes=8)),
     (7, timedelta(seconds=30 * 64)), (8, timedelta(hours=1)), (8, MAX_RETRY_DELAY),
     (60, MAX_RETRY_DELAY), (5000, MAX_RETRY_DELAY)],
)
def test_retry_delay_doubles_up_to_a_cap(attempts: int, delay: timedelta) -> None:
    assert retry_delay(attempts, 30) == delay


def test_server_down_is_a_temporary_failure(db: Session) -> None:
    [row] = queue(db)

    report = send(db, SmtpTransport("127.0.0.1", free_port(), timeout=5), T0)

    assert report == SendReport(retried=1)
    db.refresh(row)
    assert row.status == OutboxStatus.PENDING
    assert (row.last_error or "").startswith("ConnectionRefusedError")


def test_file_transport_writes_a_parseable_eml(db: Session, mail_dir: Path) -> None:
    [row] = queue(db)
    transport = transport_from_url(f"file://{mail_dir}")

    assert send(db, transport, T0) == SendReport(sent=1)

    [path] = mail_dir.iterdir()
    assert path.suffix == ".eml"
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert message["Message-ID"] == row.message_id
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("html",)) is not None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", SmtpTransport("mail.example", 2525)),
        ("smtp://mail.example", SmtpTransport("mail.example", 25)),
        ("smtp://apikey:p%40ss@mail.example?starttls=1&timeout=5",
         SmtpTransport("mail.example", 587, "starttls", "apikey", "p@ss", timeout=5)),
        ("smtps://u:p@mail.example", SmtpTransport("mail.example", 465, "tls", "u", "p")),
        ("file:///var/spool/portal", FileTransport(Path("/var/spool/portal"))),
    ],
)
def test_transport_from_url(url: str, expected: Transport) -> None:
    assert transport_from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://user:hunter2@mail.example", "unknown mail URL scheme 'ftp'"),
        ("mail.example:25", "unknown mail URL scheme"),
        ("smtp://mail.example?starttls=maybe", "mail URL option starttls='maybe'"),
        ("smtp://mail.example?tls=1", "unknown mail URL option(s) tls"),
        ("smtps://mail.example?starttls=1", "smtps:// is TLS"),
        ("smtp:///no-host", "a smtp:// mail URL needs a host"),
    ],
)
def test_transport_from_url_says_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(complaint)) as raised:
        transport_from_url(url)
    assert "hunter2" not in str(raised.value)


def test_a_claimed_row_is_left_alone_until_its_lease_runs_out(
    db: Session, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    [row] = queue(db)
    with sessions() as other:
        assert claim(other, row.id, now=T0) is not None  # a sender that then crashed
        assert claim(db, row.id, now=T0) is None

        assert send(db, smtp_server.transport, T0 + LEASE - timedelta(seconds=1)) == SendReport()
        assert smtp_server.mailbox.received == []

        assert send(db, smtp_server.transport, T0 + LEASE + timedelta(seconds=1)) == SendReport(sent=1)
    db.refresh(row)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert smtp_server.mailbox.message_ids() == [row.message_id]


@dataclass
class CrashingTransport:
    """Delivers through `inner`, but dies (like a killed process) on call number `crash_on`."""

    inner: Transport
    crash_on: int
    calls: int = 0

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        if self.calls == self.crash_on:
            raise SystemExit("sender killed")
        self.inner.send(message)


def test_a_crash_mid_batch_loses_nothing_and_sends_nothing_twice(
        db: Session, smtp_server: SmtpServer) -> None:
    rows = queue(db, 5)

    with pytest.raises(SystemExit):
        send(db, CrashingTransport(smtp_server.transport, crash_on=3), T0)
    db.rollback()

    statuses = [db.get(OutboxEmail, r.id, populate_existing=True) for r in rows]
    assert [(r.status, r.attempts) for r in statuses if r] == [
        (OutboxStatus.SENT, 1), (OutboxStatus.SENT, 1), (OutboxStatus.PENDING, 1),
        (OutboxStatus.PENDING, 0), (OutboxStatus.PENDING, 0),
    ]
    # A restarted sender takes the untouched rows; the one in flight waits for its lease.
    assert send(db, smtp_server.transport, T0) == SendReport(sent=2)
    assert send(db, smtp_server.transport, T0 + LEASE + timedelta(seconds=1)) == SendReport(sent=1)
    assert sorted(smtp_server.mailbox.message_ids()) == sorted(r.message_id for r in rows)


def test_abandons_a_message_whose_attempts_all_ended_in_crashes(db: Session, smtp_server: SmtpServer) -> None:
    [row] = queue(db)
    now = T0
    for _ in range(2):
        with pytest.raises(SystemExit):
            send(db, CrashingTransport(smtp_server.transport, crash_on=1), now, max_attempts=2)
        db.rollback()
        now += LEASE + timedelta(seconds=1)

    assert send(db, smtp_server.transport, now, max_attempts=2) == SendReport(failed=1)
    db.refresh(row)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error == "abandoned: 2 attempts ended without an outcome"
    assert smtp_server.mailbox.received == []


def test_concurrent_senders_deliver_each_message_exactly_once(
    db: Session, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    rows = queue(db, 24)
    reports: list[SendReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def sender() -> None:
        try:
            with sessions() as own:
                start.wait()
                reports.append(send(own, smtp_server.transport, T0, batch_size=5))
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.sent for r in reports) == 24
    assert sorted(smtp_server.mailbox.message_ids()) == sorted(r.message_id for r in rows)
    db.expire_all()
    assert set(db.scalars(select(OutboxEmail.status)).all()) == {OutboxStatus.SENT}
    assert set(db.scalars(select(OutboxEmail.attempts)).all()) == {1}


# --- TLS: implicit (smtps) and STARTTLS, with a login, against a self-signed certificate ---

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_delivery_with_login(certificate: tuple[Path, Path], security: str) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    tls: dict[str, Any] = (
        # aiosmtpd takes only STARTTLS for TLS when deciding to offer AUTH; this is TLS too.
        {"ssl_context": server_context, "auth_require_tls": False} if security == "tls"
        else {"tls_context": server_context, "require_starttls": True}
    )
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=mailbox.authenticate, **tls)
    controller.start()
    try:
        transport = SmtpTransport(
            "127.0.0.1", controller.port, security, "desk", "s3cret", timeout=5,  # type: ignore[arg-type]
            ssl_context=ssl.create_default_context(cafile=str(cert)),
        )
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = MAIL_FROM, "a@example.com", "TLS"
        transport.send(message)
        assert mailbox.logins == [(b"desk", b"s3cret")]
        assert [r.message["Subject"] for r in mailbox.received] == ["TLS"]

        # An untrusted certificate is a temporary failure (a configuration to fix), not a loss.
        with pytest.raises(DeliveryError) as raised:
            SmtpTransport("127.0.0.1", controller.port, security, timeout=5).send(message)  # type: ignore[arg-type]
        assert not raised.value.permanent
        assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    finally:
        controller.stop()


# --- The command line ---

def test_send_command_shows_each_outcome_and_a_summary(
    db: Session, runner: FlaskCliRunner, smtp_server: SmtpServer
) -> None:
    smtp_server.mailbox.rcpt_replies["later@example.com"] = "450 4.2.0 greylisted"
    smtp_server.mailbox.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    now = utcnow()
    queue(db, to="editor@example.com", subject="Quote ready", at=now)
    queue(db, to="later@example.com", subject="Quote ready", at=now)
    queue(db, to="gone@example.com", subject="Quote ready", at=now)

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Delivering through smtp://127.0.0.1:{smtp_server.port}."
    assert lines[1] == "  sent     editor@example.com  Quote ready"
    assert lines[2].startswith("  retry    later@example.com  Quote ready (attempt 2, next at ")
    assert lines[2].endswith(" UTC): recipient refused: 450 4.2.0 greylisted")
    assert lines[3] == ("  failed   gone@example.com  Quote ready (after 1 attempt): "
                        "recipient refused: 550 5.1.1 no such user")
    assert lines[4] == "Sent 1, will retry 1, failed 1."
    assert [r.rcpt_tos for r in smtp_server.mailbox.received] == [["editor@example.com"]]


def test_send_loop_runs_until_sigterm(db: Session, runner: FlaskCliRunner, smtp_server: SmtpServer) -> None:
    [row] = queue(db, at=utcnow())
    default_handler = signal.getsignal(signal.SIGTERM)
    finished = threading.Event()
    interrupted = threading.Event()

    def terminate_once_listening() -> None:
        # SIGTERM only once the command handles it: the default action would end pytest.
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGTERM) is default_handler and time.monotonic() < deadline:
            time.sleep(0.01)
        if signal.getsignal(signal.SIGTERM) is not default_handler:
            os.kill(os.getpid(), signal.SIGTERM)
            if finished.wait(10):
                return
        # The loop did not stop: Ctrl-C it, so that the test fails instead of hanging.
        interrupted.set()
        os.kill(os.getpid(), signal.SIGINT)

    killer = threading.Thread(target=terminate_once_listening)
    killer.start()
    result = runner.invoke(args=["outbox", "send", "--loop", "--interval", "0.05"])
    finished.set()
    killer.join()

    assert not interrupted.is_set(), result.output
    assert result.exit_code == 0, result.output
    assert "  sent     reader@example.com  Your licence is ready" in result.output
    assert result.output.splitlines()[-1] == "Stopped."
    assert signal.getsignal(signal.SIGTERM) is default_handler
    assert smtp_server.mailbox.message_ids() == [row.message_id]


def test_send_command_rejects_an_unknown_mail_url(tmp_path: Path, database_url: str) -> None:
    app = make_app(tmp_path, database_url, MAIL_URL="smtpx://mail.example")

    result = app.test_cli_runner().invoke(args=["outbox", "send"])

    assert result.exit_code == 1
    assert "PORTAL_MAIL_URL: unknown mail URL scheme 'smtpx'" in result.output
    app.extensions["portal.db"].engine.dispose()
