"""How the outbox is doing: what waits, what keeps failing, what was given up; and the one
e-mail that tells the desk when mail has been failing for a while.

Pure reads (a session and a clock in, data out), cheap enough for every back-office page:
one aggregate query over the unsent rows, which the (status, next_attempt_at) index serves.
Callers: the back office's banner and operations page, each `outbox send` pass, /readyz and
the periodic jobs.

"Failing" is a message still queued whose last attempt failed for now (it has an error and
will be tried again); "dead" is one given up (status failed). A failing episode lasts while
any message is failing; it started when the oldest of them was written.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.notifications.outbox import enqueue
from portal.urls import link

#: the template of the alert: its outbox rows are also the record of which episode was told
ALERT_TEMPLATE = "mail_failing"
#: how long mail may be failing before the desk is told (OUTBOX_ALERT_AFTER_MINUTES)
ALERT_AFTER = timedelta(minutes=30)
#: dead messages written this long ago or less bring up the banner (OUTBOX_ALERT_DEAD_DAYS)
DEAD_SHOWN_FOR = timedelta(days=7)


@dataclass(frozen=True)
class MailHealth:
    """The outbox at `now`."""

    now: datetime
    #: messages not sent yet and not given up (due now or later, failing or not)
    waiting: int
    #: when the oldest of them was written
    oldest_unsent_at: datetime | None
    #: waiting messages whose last attempt failed for now
    failing: int
    #: when the oldest failing message was written: the start of the failing episode
    failing_since: datetime | None
    #: messages given up (failed for good), ever
    dead: int
    #: of those, the ones written within the window mail_health was given
    recent_dead: int

    @property
    def oldest_unsent_age(self) -> timedelta | None:
        return None if self.oldest_unsent_at is None else self.now - self.oldest_unsent_at

    @property
    def failing_for(self) -> timedelta | None:
        return None if self.failing_since is None else self.now - self.failing_since

    def is_failing_longer_than(self, limit: timedelta) -> bool:
        return self.failing_for is not None and self.failing_for > limit

    def needs_attention(self, alert_after: timedelta = ALERT_AFTER) -> bool:
        """Mail has been failing for longer than `alert_after`, or recent mail was given up."""
        return self.is_failing_longer_than(alert_after) or self.recent_dead > 0


def mail_health(db: Session, now: datetime, *,
                dead_shown_for: timedelta = DEAD_SHOWN_FOR) -> MailHealth:
    """The outbox's numbers at `now`, in one query."""
    pending = OutboxEmail.status == OutboxStatus.PENDING
    failing = pending & OutboxEmail.last_error.is_not(None)
    dead = OutboxEmail.status == OutboxStatus.FAILED
    row = db.execute(
        select(
            func.count(case((pending, 1))),
            func.min(case((pending, OutboxEmail.created_at))),
            func.count(case((failing, 1))),
            func.min(case((failing, OutboxEmail.created_at))),
            func.count(case((dead, 1))),
            func.count(case((dead & (OutboxEmail.created_at >= now - dead_shown_for), 1))),
        ).where(OutboxEmail.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]))
    ).one()
    return MailHealth(
        now=now, waiting=row[0], oldest_unsent_at=row[1], failing=row[2],
        failing_since=row[3], dead=row[4], recent_dead=row[5],
    )


def oldest_unsent_age(db: Session, now: datetime) -> timedelta | None:
    """How long the oldest message not yet sent (nor given up) has waited, or None."""
    oldest = db.scalar(select(func.min(OutboxEmail.created_at))
                       .where(OutboxEmail.status == OutboxStatus.PENDING))
    return None if oldest is None else now - oldest


def failing_emails(db: Session, *, limit: int | None = None) -> list[OutboxEmail]:
    """Queued messages whose last attempt failed, the longest failing first."""
    query = (select(OutboxEmail)
             .where(OutboxEmail.status == OutboxStatus.PENDING,
                    OutboxEmail.last_error.is_not(None))
             .order_by(OutboxEmail.created_at, OutboxEmail.id))
    return list(db.scalars(query.limit(limit) if limit is not None else query))


def describe(health: MailHealth) -> str:
    """One line for a log or a banner: how many fail, since when, and what waits."""
    parts = []
    if health.failing:
        parts.append(f"{health.failing} e-mail{'s' if health.failing != 1 else ''} failing "
                     f"for {_duration(health.failing_for)}")
    if health.dead:
        parts.append(f"{health.dead} given up")
    parts.append(f"{health.waiting} waiting"
                 + (f", the oldest for {_duration(health.oldest_unsent_age)}"
                    if health.waiting else ""))
    return "; ".join(parts)


def _duration(elapsed: timedelta | None) -> str:
    minutes = max(0, int((elapsed or timedelta(0)).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def alert_staff_if_failing(db: Session, now: datetime, notify_emails: Sequence[str], *,
                           alert_after: timedelta = ALERT_AFTER) -> bool:
    """Queue the "mail is failing" e-mail to `notify_emails` when mail has been failing for
    longer than `alert_after` and this episode has not been told yet; True when it did.

    The alert's own outbox rows are the record: one written since the episode started means
    the desk was told. (It waits in the same queue, so it arrives once mail flows again; the
    back office's banner says it meanwhile.) Needs an app context for the templates; the
    caller commits.
    """
    health = mail_health(db, now)
    if not notify_emails or not health.is_failing_longer_than(alert_after):
        return False
    assert health.failing_since is not None
    told = db.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.template == ALERT_TEMPLATE, OutboxEmail.created_at >= health.failing_since))
    if told:
        return False
    last_error = db.scalar(
        select(OutboxEmail.last_error)
        .where(OutboxEmail.status == OutboxStatus.PENDING, OutboxEmail.last_error.is_not(None))
        .order_by(OutboxEmail.next_attempt_at.desc(), OutboxEmail.id.desc()).limit(1))
    for address in dict.fromkeys(notify_emails):
        email = enqueue(db, address, ALERT_TEMPLATE, health=health, last_error=last_error,
                        failing_for=_duration(health.failing_for),
                        operations_url=link("staff.operations"))
        # Stamped with the caller's clock, like the episode it reports.
        email.created_at = email.next_attempt_at = now
    return True
