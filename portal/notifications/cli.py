"""`flask --app portal outbox send [--loop]`: deliver queued e-mail, showing each outcome."""

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from portal import db as portal_db
from portal.db import utcnow
from portal.licensing.services import mint_status_url
from portal.notifications.models import OutboxEmail, OutboxStatus
from portal.notifications.sender import SendReport, send_due
from portal.notifications.transports import Transport, transport_from_url

outbox_cli = AppGroup("outbox", help="Queued e-mail.")


def _echo_outcome(email: OutboxEmail) -> None:
    line = f"{email.to_address}  {email.subject}"
    if email.status == OutboxStatus.SENT:
        click.echo(f"  sent     {line}")
    elif email.status == OutboxStatus.PENDING:
        retry_at = email.next_attempt_at
        when = f"{retry_at:%H:%M}" if retry_at.date() == utcnow().date() else f"{retry_at:%Y-%m-%d %H:%M}"
        click.echo(f"  retry    {line} (attempt {email.attempts + 1}, next at {when} UTC): {email.last_error}")
    else:
        tries = f"{email.attempts} attempt" + ("" if email.attempts == 1 else "s")
        click.echo(f"  failed   {line} (after {tries}): {email.last_error}")


def _send_pass(transport: Transport) -> SendReport:
    config = current_app.config
    # A session per pass: a long-running loop should not hoard every row it ever sent.
    with portal_db.database().sessionmaker() as db:
        return send_due(
            db,
            transport,
            mail_from=config["MAIL_FROM"],
            batch_size=int(config["OUTBOX_BATCH_SIZE"]),
            max_attempts=int(config["OUTBOX_MAX_ATTEMPTS"]),
            retry_base_seconds=float(config["OUTBOX_RETRY_BASE_SECONDS"]),
            on_done=_echo_outcome,
            links=mint_status_url,
        )


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
        click.echo(_summary(_send_pass(transport)))
        return
    # SIGTERM (a service manager stopping us) lets the current pass finish; Ctrl-C stops at
    # once, and a message cut off mid-send is retried when its claim runs out.
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        while True:
            report = _send_pass(transport)
            if report != SendReport():
                click.echo(_summary(report))
            if stop.wait(interval):
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    click.echo("Stopped.")
