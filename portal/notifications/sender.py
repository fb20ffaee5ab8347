"""Delivering the outbox: claim each due row, send it, record the outcome, with retries.

Several senders may run at once (processes, hosts). Each row is claimed with a
compare-and-set UPDATE that sets a lease (`locked_until`) and is committed before the message
goes out, and the outcome is committed right after it, one message at a time: so a row is
never sent by two senders, a crash loses at most the claim of the message in flight (its
lease runs out and it is tried again), and a message recorded as sent is never sent again.
On PostgreSQL the claim picks its row with `FOR UPDATE SKIP LOCKED`, so senders never wait
on each other either: each takes the next row nobody else is taking.

A temporary failure is retried after waits that double from OUTBOX_RETRY_BASE_SECONDS up to
OUTBOX_RETRY_MAX_DELAY_MINUTES, until the waits add up to OUTBOX_GIVE_UP_AFTER_HOURS (or
OUTBOX_MAX_ATTEMPTS attempts were made): an outage of a day loses nothing. A permanent
refusal (5xx) fails the message at once. `requeue_failed` puts failed messages back.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.notifications.models import LINK_PLACEHOLDER, OutboxEmail, OutboxStatus
from portal.notifications.transports import DeliveryError, Transport, build_message
from portal.uow import unit_of_work

#: How long a claim holds: longer than any one delivery (SMTP timeouts are 30 s per step).
LEASE = timedelta(minutes=10)
#: Retry delays double from OUTBOX_RETRY_BASE_SECONDS up to this (OUTBOX_RETRY_MAX_DELAY_MINUTES):
#: once a server is back, a message waits at most this long for its next try.
MAX_RETRY_DELAY = timedelta(hours=1)
#: A temporarily failing message is given up once its retries have spanned this long
#: (OUTBOX_GIVE_UP_AFTER_HOURS).
GIVE_UP_AFTER = timedelta(hours=48)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def retry_delay(attempts: int, base_seconds: float, cap: timedelta = MAX_RETRY_DELAY) -> timedelta:
    """The wait after the `attempts`-th attempt failed: base, 2 × base, 4 × base, ... capped."""
    # Capped in seconds, exponent first: the doubled delay soon outgrows what a float holds.
    cap_seconds = cap.total_seconds()
    if base_seconds <= 0:
        return timedelta(0)
    if attempts - 1 >= 64 or base_seconds * 2 ** (attempts - 1) >= cap_seconds:
        return cap
    return timedelta(seconds=base_seconds * 2 ** (attempts - 1))


@dataclass(frozen=True)
class RetrySchedule:
    """When a message that failed for now is tried again, and when it is given up."""

    base_seconds: float = 30
    max_delay: timedelta = MAX_RETRY_DELAY
    give_up_after: timedelta = GIVE_UP_AFTER
    max_attempts: int = 100

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "RetrySchedule":
        """The schedule the OUTBOX_* keys of the app's configuration describe."""
        return cls(
            base_seconds=float(config["OUTBOX_RETRY_BASE_SECONDS"]),
            max_delay=timedelta(minutes=float(config["OUTBOX_RETRY_MAX_DELAY_MINUTES"])),
            give_up_after=timedelta(hours=float(config["OUTBOX_GIVE_UP_AFTER_HOURS"])),
            max_attempts=int(config["OUTBOX_MAX_ATTEMPTS"]),
        )

    def delay(self, attempts: int) -> timedelta:
        return retry_delay(attempts, self.base_seconds, self.max_delay)

    def waited(self, attempts: int) -> timedelta:
        """The waits the schedule put between the first attempt and attempt `attempts`.

        Counted from the schedule rather than from the clock, so that a message written while
        no sender ran (or queued behind a backlog) still gets its full time of retries."""
        total = timedelta(0)
        for done in range(1, attempts):
            wait = self.delay(done)
            if wait >= self.max_delay:  # from here on every wait is the cap
                return total + self.max_delay * (attempts - done)
            total += wait
        return total

    def is_last(self, attempts: int) -> bool:
        """True when a temporary failure of attempt `attempts` is to be the message's last."""
        return attempts >= self.max_attempts or self.waited(attempts) >= self.give_up_after

    def last_attempt(self) -> int:
        """The number of the attempt after which a message that keeps failing is given up."""
        attempts = 1
        while not self.is_last(attempts):
            attempts += 1
        return attempts

    def span(self) -> timedelta:
        """How long a message that keeps failing for now is retried, at the least."""
        return self.waited(self.last_attempt())


def delivery_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """send_due's settings (batch size and retry schedule) from the app's configuration."""
    schedule = RetrySchedule.from_config(config)
    return {
        "batch_size": int(config["OUTBOX_BATCH_SIZE"]),
        "max_attempts": schedule.max_attempts,
        "retry_base_seconds": schedule.base_seconds,
        "max_retry_delay": schedule.max_delay,
        "give_up_after": schedule.give_up_after,
    }


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

    On PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`: a row another sender is
    claiming at this very moment is passed over at once, never waited for. (SQLite has no
    row locks and runs one writer at a time; there the clause is left out and the
    compare-and-set alone decides.)
    """
    picked = (
        select(OutboxEmail.id)
        .where(OutboxEmail.id == email_id, _is_due(now))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    # A plain UPDATE on the session's connection: its rowcount is the answer, and the row is
    # read back fresh below.
    with unit_of_work(db):
        result = db.connection().execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == picked, _is_due(now))
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
    schedule: RetrySchedule,
    links: LinkMinter | None,
) -> None:
    if email.attempts > schedule.max_attempts:
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
            if error.permanent or schedule.is_last(email.attempts):
                email.status = OutboxStatus.FAILED
            else:
                email.next_attempt_at = clock() + schedule.delay(email.attempts)
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
    max_retry_delay: timedelta = MAX_RETRY_DELAY,
    give_up_after: timedelta = GIVE_UP_AFTER,
    now: datetime | None = None,
    on_done: Callable[[OutboxEmail], None] | None = None,
    links: LinkMinter | None = None,
) -> SendReport:
    """Send every due message, `batch_size` rows read at a time, committing on `db` per message.

    A temporary failure is retried on the RetrySchedule the other settings make. `now`
    fixes the clock (tests move it forward instead of sleeping); by default each step reads
    the time. `on_done` sees each row after its outcome is committed: status sent, failed,
    or pending again with `next_attempt_at` set for a retry.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    schedule = RetrySchedule(base_seconds=retry_base_seconds, max_delay=max_retry_delay,
                             give_up_after=give_up_after, max_attempts=max_attempts)
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
                _attempt(db, email, transport, clock, mail_from=mail_from, schedule=schedule,
                         links=links)
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


class NotRequeued(ValueError):
    """Nothing was put back in the queue; the message says why, for the person asking."""


#: ids are 32-bit integers in the database; a larger number names no message
_MAX_ID = 2**31 - 1


def failed_emails(db: Session, *, limit: int | None = None) -> list[OutboxEmail]:
    """The messages given up, most recently written first."""
    query = (select(OutboxEmail).where(OutboxEmail.status == OutboxStatus.FAILED)
             .order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc()))
    return list(db.scalars(query.limit(limit) if limit is not None else query))


def requeue_failed(db: Session, email_ids: Sequence[int] | None, *, now: datetime) -> list[OutboxEmail]:
    """Put failed messages back in the queue, due at `now` with their attempts reset: the
    ones `email_ids` names (all of them failed, or nothing is changed), or with None every
    failed message. Returns them; the caller commits.

    A message sent or still pending is refused: sending it again would send it twice (or
    cut short the retries it has). Each row changes only if it is still failed when written,
    so two people putting the same message back queue it once.
    """
    if email_ids is None:
        rows = failed_emails(db)
    else:
        wanted = list(dict.fromkeys(email_ids))
        unknown = [i for i in wanted if not 0 < i <= _MAX_ID]
        found = {row.id: row for row in db.scalars(
            select(OutboxEmail).where(OutboxEmail.id.in_([i for i in wanted if i not in unknown])))}
        unknown += [i for i in wanted if i not in found and i not in unknown]
        if unknown:
            raise NotRequeued("No message with the id " + ", ".join(map(str, unknown))
                              + ": nothing was re-queued.")
        rows = [found[i] for i in wanted]
        for row in rows:
            if row.status != OutboxStatus.FAILED:
                state = ("was sent" if row.status == OutboxStatus.SENT
                         else "is still queued (it will be tried again by itself)")
                raise NotRequeued(f"Message {row.id} to {row.to_address} {state}: only failed "
                                  "messages can be sent again; nothing was re-queued.")
    if not rows:
        return []
    result = db.connection().execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_([row.id for row in rows]),
               OutboxEmail.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now,
                locked_until=None, last_error=None)
    )
    if result.rowcount != len(rows):
        raise NotRequeued("Someone else changed these messages at the same time; nothing was "
                          "re-queued. Look again, then try again.")
    for row in rows:
        db.refresh(row)
    return rows
