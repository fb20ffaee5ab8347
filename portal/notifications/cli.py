"""`flask --app portal outbox send [--loop]`: deliver queued e-mail, showing each outcome;
`outbox retry`: put messages that were given up back in the queue."""

import logging
import signal
import threading
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from portal import db as portal_db
from portal.db import utcnow
from portal.licensing.services import mint_status_url
from portal.notifications.health import alert_staff_if_failing, describe, mail_health
from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.notifications.sender import (
    NotRequeued,
    SendReport,
    delivery_settings,
    failed_emails,
    requeue_failed,
    send_due,
)
from portal.notifications.transports import Transport, transport_from_url
from portal.uow import unit_of_work

outbox_cli = AppGroup("outbox", help="Queued e-mail.")
log = logging.getLogger("portal.notifications")


def _echo_outcome(email: OutboxEmail) -> None:
    line = f"{email.to_address}  {email.subject}"
    if email.status == OutboxStatus.SENT:
        click.echo(f"  sent     {line}")
    elif email.status == OutboxStatus.PENDING:
        retry_at = email.next_attempt_at
        when = f"{retry_at:%H:%M}" if retry_at.date() == utcnow().date() else f"{retry_at:%Y-%m-%d %H:%M}"
        click.echo(f"  retry    {line} (attempt {email.attempts + 1}, next at {when} UTC): "
                   f"{email.last_error}")
    else:
        tries = f"{email.attempts} attempt" + ("" if email.attempts == 1 else "s")
        click.echo(f"  failed   {line} (after {tries}): {email.last_error}")


def _send_pass(transport: Transport, *, always_summarise: bool) -> None:
    """One pass: every due message, its summary, then a look at the outbox's health."""
    config = current_app.config
    # A session per pass: a long-running loop should not hoard every row it ever sent.
    with portal_db.database().sessionmaker() as db:
        report = send_due(
            db,
            transport,
            mail_from=config["MAIL_FROM"],
            **delivery_settings(config),
            on_done=_echo_outcome,
            links=mint_status_url,
        )
        if always_summarise or report != SendReport():
            click.echo(_summary(report))
        _watch_health(db)


def _watch_health(db: Session) -> None:
    """After each pass: one ERROR line while mail is failing, and the desk's alert once per
    episode when it has been failing for long."""
    now = utcnow()
    with unit_of_work(db):
        health = mail_health(db, now)
        if health.failing:
            log.error("outbox: %s", describe(health))
        alerted = alert_staff_if_failing(
            db, now, current_app.config["STAFF_NOTIFY_EMAILS"],
            alert_after=timedelta(minutes=float(current_app.config["OUTBOX_ALERT_AFTER_MINUTES"])))
    if alerted:
        click.echo(f"  alert    mail failing: told {', '.join(current_app.config['STAFF_NOTIFY_EMAILS'])}")


def _summary(report: SendReport) -> str:
    return f"Sent {report.sent}, will retry {report.retried}, failed {report.failed}."


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep sending until Ctrl-C or SIGTERM.")
@click.option(
    "--interval", type=click.FloatRange(min=0), default=30.0, show_default=True,
    help="Seconds to wait between passes with --loop.",
)
def send(loop: bool, interval: float) -> None:
    """Deliver the queued e-mail that is due; temporary failures are retried later."""
    try:
        transport = transport_from_url(current_app.config["MAIL_URL"])
    except ValueError as error:
        raise click.ClickException(f"PORTAL_MAIL_URL: {error}") from error
    click.echo(f"Delivering through {transport}.")
    if not loop:
        _send_pass(transport, always_summarise=True)
        return
    # SIGTERM (a service manager stopping us) lets the current pass finish; Ctrl-C stops at
    # once, and a message cut off mid-send is retried when its claim runs out.
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        while True:
            _send_pass(transport, always_summarise=False)
            if stop.wait(interval):
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    click.echo("Stopped.")


def _describe_failed(email: OutboxEmail) -> str:
    tries = f"{email.attempts} attempt" + ("" if email.attempts == 1 else "s")
    return (f"  {email.id:>6}  {email.created_at:%Y-%m-%d %H:%M}  {email.to_address}  "
            f"{email.subject} (after {tries}): {email.last_error}")


@outbox_cli.command("retry")
@click.option("--id", "email_ids", type=int, multiple=True, metavar="N",
              help="Re-queue the failed message with this id (repeatable).")
@click.option("--all-failed", is_flag=True, help="Re-queue every failed message.")
def retry(email_ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed messages back in the queue (due now, attempts reset). Without options,
    list the failed messages."""
    if email_ids and all_failed:
        raise click.UsageError("Give either --id N (as often as needed) or --all-failed, not both.")
    with portal_db.database().sessionmaker() as db:
        if not email_ids and not all_failed:
            failed = failed_emails(db)
            if not failed:
                click.echo("No failed messages: nothing to retry.")
                return
            click.echo(f"{len(failed)} failed message{'s' if len(failed) != 1 else ''} "
                       "(id, written at UTC, to, subject, why):")
            for email in failed:
                click.echo(_describe_failed(email))
            click.echo("Re-queue one with `flask --app portal outbox retry --id N` "
                       "(repeat --id for several), or all with `outbox retry --all-failed`; "
                       "then `outbox send` delivers them.")
            return
        try:
            with unit_of_work(db):
                requeued = requeue_failed(db, None if all_failed else list(email_ids), now=utcnow())
        except NotRequeued as error:
            raise click.ClickException(str(error)) from error
        if not requeued:
            click.echo("No failed messages: nothing to retry.")
            return
        for email in requeued:
            click.echo(f"  queued   {email.id}  {email.to_address}  {email.subject}")
        click.echo(f"Re-queued {len(requeued)} message{'s' if len(requeued) != 1 else ''}: "
                   "the next `outbox send` delivers "
                   + ("it." if len(requeued) == 1 else "them."))
