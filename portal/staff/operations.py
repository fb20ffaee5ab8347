"""What the back office shows about the portal's own running (not views): the outbox's
health for the operations page, and the warning every back-office page carries while mail
is failing."""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_login import current_user

from portal import db as database
from portal.db import utcnow
from portal.notifications.health import MailHealth, mail_health


def alert_after() -> timedelta:
    return timedelta(minutes=float(current_app.config["OUTBOX_ALERT_AFTER_MINUTES"]))


def dead_shown_for() -> timedelta:
    return timedelta(days=float(current_app.config["OUTBOX_ALERT_DEAD_DAYS"]))


def current_mail_health() -> MailHealth:
    return mail_health(database.session(), utcnow(), dead_shown_for=dead_shown_for())


@dataclass(frozen=True)
class MailWarning:
    health: MailHealth
    #: mail has been failing for longer than OUTBOX_ALERT_AFTER_MINUTES
    failing_long: bool


def mail_warning() -> MailWarning | None:
    """What to warn a signed-in member of staff of about the outbox, or None."""
    if not current_user.is_authenticated:
        return None
    health = current_mail_health()
    if not health.needs_attention(alert_after()):
        return None
    return MailWarning(health, failing_long=health.is_failing_longer_than(alert_after()))
