"""Delivering the outbox: claim each due row, send it, record the outcome, with retries.

Several senders may run at once (processes, hosts). Each row is claimed with a
compare-and-set UPDATE that sets a lease (`locked_until`) and is committed before the message
goes out, and the outcome is committed right after it, one message at a time: so a row is
never sent by two senders, a crash loses at most the claim of the message in flight (its
lease runs out and it is tried again), and a message recorded as sent is never sent again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.notifications.models import LINK_PLACEHOLDER, OutboxEmail, OutboxStatus
from portal.notifications.transports import DeliveryError, Transport, build_message
from portal.uow import unit_of_work

#: How long a claim holds: longer than any one delivery (SMTP timeouts are 30 s per step).
LEASE = timedelta(minutes=10)
#: Retry delays double from OUTBOX_RETRY_BASE_SECONDS up to this.
MAX_RETRY_DELAY = timedelta(hours=6)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def retry_delay(attempts: int, base_seconds: float) -> timedelta:
    """The wait after the `attempts`-th attempt failed: base, 2 × base, 4 × base, ... capped."""
    # Capped in seconds: the doubled delay soon outgrows what a timedelta can hold.
    return timedelta(seconds=min(base_seconds * 2 ** (attempts - 1), MAX_RETRY_DELAY.total_seconds()))


def _is_due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxEmail.status == OutboxStatus.PENDING,
        OutboxEmail.next_attempt_at <= now,
        or_(OutboxEmail.locked_until.is_(None), OutboxEmail.locked_until < now),
    )


def claim(db: Session, email_id: int, *, now: datetime, lease: timedelta = LEASE) -> OutboxEmail | None:
    """Take row `email_id` for one attempt (committed), or None if it is not due or taken.

    The UPDATE matches only a row still due and unclaimed, so of several senders racing for
    it exactly one sees rowcount 1. The attempt is counted here, before sending, so that a
    message which crashes its sender every time still runs out of attempts.
    """
    # A plain UPDATE on the session's connection: its rowcount is the answer, and the row is
    # read back fresh below.
    with unit_of_work(db):
        result = db.connection().execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id, _is_due(now))
            .values(locked_until=now + lease, attempts=OutboxEmail.attempts + 1)
        )
    if result.rowcount != 1:
        return None
    return db.get(OutboxEmail, email_id, populate_existing=True)


#: mints a status-page URL for a request id (see licensing.services.mint_status_url)
LinkMinter = Callable[[Session, int], str]


def _with_link(email: OutboxEmail, db: Session, links: LinkMinter | None) -> OutboxEmail:
    """The row as it is to be sent: its placeholder replaced by a fresh status link.

    The stored row keeps the placeholder, so the token never rests in the outbox."""
    if email.link_request_id is None or links is None:
        return email
    url = links(db, email.link_request_id)
    return OutboxEmail(
        to_address=email.to_address, subject=email.subject, created_at=email.created_at,
        message_id=email.message_id,
        text_body=email.text_body.replace(LINK_PLACEHOLDER, url),
        html_body=email.html_body.replace(LINK_PLACEHOLDER, url),
    )


def _attempt(
    db: Session,
    email: OutboxEmail,
    transport: Transport,
    clock: Callable[[], datetime],
    *,
    mail_from: str,
    max_attempts: int,
    retry_base_seconds: float,
    links: LinkMinter | None,
) -> None:
    if email.attempts > max_attempts:
        # Only after senders stopped mid-delivery (crash, kill) on the last allowed attempts.
        email.status = OutboxStatus.FAILED
        email.last_error = f"abandoned: {email.attempts - 1} attempts ended without an outcome"
    else:
        try:
            # The link's token is stored before anyone can follow the link, and no
            # transaction is open while the SMTP server is talked to.
            with unit_of_work(db):
                message = build_message(_with_link(email, db, links), mail_from)
            transport.send(message)
        except DeliveryError as error:
            email.last_error = str(error)
            if error.permanent or email.attempts >= max_attempts:
                email.status = OutboxStatus.FAILED
            else:
                email.next_attempt_at = clock() + retry_delay(email.attempts, retry_base_seconds)
        else:
            email.status = OutboxStatus.SENT
            email.sent_at = clock()
    email.locked_until = None


def send_due(
    db: Session,
    transport: Transport,
    *,
    mail_from: str,
    batch_size: int,
    max_attempts: int,
    retry_base_seconds: float,
    now: datetime | None = None,
    on_done: Callable[[OutboxEmail], None] | None = None,
    links: LinkMinter | None = None,
) -> SendReport:
    """Send every due message, `batch_size` rows read at a time, committing on `db` per message.

    `now` fixes the clock (tests move it forward instead of sleeping); by default each step
    reads the time. `on_done` sees each row after its outcome is committed: status sent,
    failed, or pending again with `next_attempt_at` set for a retry.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    report = SendReport()
    while True:
        due = db.scalars(
            select(OutboxEmail.id)
            .where(_is_due(clock()))
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
            .limit(batch_size)
        ).all()
        for email_id in due:
            email = claim(db, email_id, now=clock())
            if email is None:
                continue  # another sender got it first
            with unit_of_work(db):
                _attempt(
                    db, email, transport, clock,
                    mail_from=mail_from, max_attempts=max_attempts,
                    retry_base_seconds=retry_base_seconds, links=links,
                )
            if email.status == OutboxStatus.SENT:
                report.sent += 1
            elif email.status == OutboxStatus.FAILED:
                report.failed += 1
            else:
                report.retried += 1
            if on_done is not None:
                on_done(email)
        # A short batch means the queue is drained: what is left is not due yet or taken.
        if len(due) < batch_size:
            return report
