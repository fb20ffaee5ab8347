"""`flask --app portal payments reconcile`: catch up with what providers know.

Stripe retries a webhook for three days; a portal that was down longer, or a webhook
endpoint that was misconfigured, misses events. This re-fetches every open or disputed
payment from its provider and applies what it says, one payment per transaction, so one
failure does not hold up the rest. Then it closes checkouts the provider made for this
portal that the portal never recorded (an answer lost to a timeout). Safe to run at any
time, from cron.
"""

import click
from flask.cli import AppGroup

from portal import db as database
from portal.workflows.providers import reconcile as reconcile_payments

payments_cli = AppGroup("payments", help="Payments.")


@payments_cli.command("reconcile")
def reconcile() -> None:
    """Re-fetch open and disputed payments from the provider and apply what it says."""
    result = reconcile_payments(database.session(),
                                lambda line, problem: click.echo(line, err=problem))
    click.echo(f"Done: {result.summary()}")
    if not result.complete:
        raise SystemExit(1)
