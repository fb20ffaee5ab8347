"""`flask --app portal payments reconcile`: catch up with what providers know.

Stripe retries a webhook for three days; a portal that was down longer, or a webhook
endpoint that was misconfigured, misses events. This re-fetches every open or disputed
payment from its provider and applies what it says, one payment per transaction, so one
failure does not hold up the rest. Safe to run at any time, from cron.
"""

import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import db as database
from portal.payments.models import Payment
from portal.payments.provider import ProviderError
from portal.payments.services import payments_to_reconcile, reconcile_one

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
        payment = db.get(Payment, payment_id)
        if payment is None:
            continue
        label = f"  [{number}/{len(ids)}] {payment.request.reference} {payment.provider.value} " \
                f"{payment.provider_ref}"
        try:
            result = reconcile_one(db, payment)
            db.commit()
        except ProviderError as error:
            db.rollback()
            failed += 1
            click.echo(f"{label}: not checked: {error.message}", err=True)
            continue
        except (IntegrityError, StaleDataError):
            db.rollback()
            failed += 1
            click.echo(f"{label}: changed meanwhile (a webhook?); run again", err=True)
            continue
        if result.after != result.before:
            changed += 1
            click.echo(f"{label}: {result.before.value} -> {result.after.value}")
        else:
            click.echo(f"{label}: {result.after.value}, unchanged")
    click.echo(f"Done: {changed} changed, {len(ids) - changed - failed} unchanged, "
               f"{failed} not checked.")
    if failed:
        raise SystemExit(1)
