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
from portal.payments.provider import ProviderError
from portal.payments.services import payments_to_reconcile
from portal.uow import explain
from portal.workflows.providers import close_orphans, reconcile_one

payments_cli = AppGroup("payments", help="Payments.")


@payments_cli.command("reconcile")
def reconcile() -> None:
    """Re-fetch open and disputed payments from the provider and apply what it says."""
    db = database.session()
    ids = payments_to_reconcile(db)
    db.rollback()
    click.echo(f"Checking {len(ids)} payment{'' if len(ids) == 1 else 's'} with the provider.")
    changed = failed = 0
    for number, payment_id in enumerate(ids, 1):
        label = f"  [{number}/{len(ids)}]"
        try:
            result = reconcile_one(db, payment_id)
        except ProviderError as error:
            db.rollback()
            failed += 1
            click.echo(f"{label} payment {payment_id}: not checked: {error.message}", err=True)
            continue
        except Exception as error:  # noqa: BLE001 - a concurrent change, mapped below
            db.rollback()
            if explain(error) is None:
                raise
            failed += 1
            click.echo(f"{label} payment {payment_id}: changed meanwhile (a webhook?); run "
                       "again", err=True)
            continue
        label = f"{label} {result.label}"
        if result.after != result.before:
            changed += 1
            click.echo(f"{label}: {result.before.value} -> {result.after.value}")
        else:
            click.echo(f"{label}: {result.after.value}, unchanged")
    click.echo(f"Done: {changed} changed, {len(ids) - changed - failed} unchanged, "
               f"{failed} not checked.")
    sweep = close_orphans(db)
    for ref in sweep.closed:
        click.echo(f"  closed checkout {ref}: the portal never recorded it")
    for problem in sweep.failed:
        click.echo(f"  could not look for unrecorded checkouts: {problem}", err=True)
    if sweep.closed:
        click.echo(f"Closed {len(sweep.closed)} unrecorded checkout"
                   f"{'' if len(sweep.closed) == 1 else 's'}.")
    if failed or sweep.failed:
        raise SystemExit(1)
