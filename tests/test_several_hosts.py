"""Several hosts on one PostgreSQL and one Redis: two gunicorn instances, two outbox workers
and two periodic-job runners, started as separate processes as a deployment runs them.
Requests are sent to both web instances; then every e-mail must reach the SMTP server
exactly once, and every job effect (each expired quote, each expiry e-mail) happen once.
"""

import os
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.licensing.models import Quote
from portal.notifications.models import OutboxEmail, OutboxStatus
from tests.conftest import PG_SKIP, PG_URL, REDIS_SKIP, REDIS_URL, make_app, pg_schema_url
from tests.mailserver import SmtpServer
from tests.payments_support import quoted_request, state
from tests.process_support import (
    BIN,
    Browser,
    Processes,
    answers,
    free_port,
    portal_env,
    request_fields,
    wait_until,
)

pytestmark = pytest.mark.slow
SCHEMA = f"several_hosts_{os.getpid()}"
ARTICLE = "/articles/harbour-wind/republish"
SENT_REQUESTS = 8
EXPIRED_QUOTES = 3


@pytest.fixture
def schema_url() -> str:  # type: ignore[misc]
    if not PG_URL:
        pytest.skip(PG_SKIP)
    if not REDIS_URL:
        pytest.skip(REDIS_SKIP)
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    yield pg_schema_url(SCHEMA)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def test_two_of_everything_send_each_email_once_and_run_each_job_once(
        tmp_path: Path, schema_url: str, smtp_server: SmtpServer) -> None:
    # The database, migrated, with an article and some quotes that ran out meanwhile.
    app = make_app(tmp_path, schema_url)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    db = app.extensions["portal.db"].sessionmaker()
    try:
        check_two_of_everything(tmp_path, app, db, schema_url, smtp_server)
    finally:
        db.close()  # the schema is dropped afterwards: no transaction may be left open
        app.extensions["portal.db"].engine.dispose()


def check_two_of_everything(tmp_path: Path, app: Flask, db: Session, schema_url: str,
                            smtp_server: SmtpServer) -> None:
    from tests.factories import make_article

    make_article(db)
    expiring = [quoted_request(app, db)[0] for _ in range(EXPIRED_QUOTES)]
    db.execute(update(Quote).values(valid_until=utcnow() - timedelta(minutes=1)))
    db.commit()

    shared = {"ENV": "production", "SECRET_KEY": "one-secret-for-every-host-of-the-portal",
              # browsers reach the hosts at 127.0.0.1:<port>, where a proxy would stand
              "EXTRA_HOSTS": "127.0.0.1",
              "BASE_URL": "https://portal.example", "PAYMENT_PROVIDER": "invoice",
              "DATABASE_URL": schema_url, "REDIS_URL": str(REDIS_URL),
              "MAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
              "REPUBLISH_RATE_LIMIT": "1000 per minute",
              # plain http on 127.0.0.1 here, where a TLS proxy would stand in front
              "SESSION_COOKIE_SECURE": "false"}
    running = Processes(tmp_path)
    try:
        bases = []
        for host in (1, 2):
            port = free_port()
            running.start(f"web{host}", [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py"],
                          portal_env(**shared, BIND=f"127.0.0.1:{port}", WEB_WORKERS="2"))
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            wait_until(lambda base=base: answers(base + "/healthz"), 30, f"gunicorn at {base}")
        for host in (1, 2):
            running.start(f"mail{host}", [str(BIN / "flask"), "--app", "portal", "outbox", "send",
                                          "--loop", "--interval", "0.3"], portal_env(**shared))
            running.start(f"jobs{host}", [str(BIN / "flask"), "--app", "portal", "jobs", "run",
                                          "--loop", "--interval", "0.3"], portal_env(**shared))

        for number in range(SENT_REQUESTS):  # alternately to each host
            base = bases[number % 2]
            status, landed, _page = Browser(base).submit(
                ARTICLE, request_fields(requester_email=f"buyer{number}@gazette.example"))
            assert status == 200 and "/requests/" in landed

        def all_delivered() -> bool:
            db.rollback()
            pending = db.scalar(select(func.count()).select_from(OutboxEmail).where(
                OutboxEmail.status != OutboxStatus.SENT))
            total = db.scalar(select(func.count()).select_from(OutboxEmail))
            return pending == 0 and total == len(smtp_server.mailbox.received)

        wait_until(all_delivered, 60, "every queued e-mail to be sent", every=0.5)
        for process in running.started:
            assert process.stop(signal.SIGTERM) == 0, process.output()[-3000:]
    finally:
        running.stop_all()

    # Every e-mail exactly once.
    db.rollback()
    queued = db.scalars(select(OutboxEmail.message_id)).all()
    received = Counter(smtp_server.mailbox.message_ids())
    assert sorted(received) == sorted(f"<{m}>" if not m.startswith("<") else m for m in queued)
    assert all(count == 1 for count in received.values()), received
    # 8 requests (to the requester and to the desk), 3 quotes, 3 expiries at least.
    assert len(queued) >= 2 * SENT_REQUESTS + 2 * EXPIRED_QUOTES
    # Every job effect once: each expired quote expired once, its requester told once.
    for request_id in expiring:
        assert state(db, request_id) == "expired"
        expiries = db.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.request_id == request_id, AuditEvent.subject == "request",
            AuditEvent.to_state == "expired"))
        assert expiries == 1
    runner_logs = "".join((tmp_path / f"jobs{host}.log").read_text() for host in (1, 2))
    assert runner_logs.count(f"requests-expire: Expired {EXPIRED_QUOTES} quotes.") == 1, \
        runner_logs
