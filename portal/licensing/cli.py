"""`flask --app portal requests ...`: time-based changes to requests (run from cron)."""

import click
from flask.cli import AppGroup

from portal.uow import unit_of_work
from portal.licensing.services import expire_quotes

requests_cli = AppGroup("requests", help="Republishing requests.")


@requests_cli.command("expire")
def expire() -> None:
    """Expire quotes whose validity has ended, and tell each requester."""
    with unit_of_work() as db:
        expired = expire_quotes(db)
        for request in expired:
            click.echo(f"  expired  {request.reference}  {request.requester_email}")
    click.echo(f"Expired {len(expired)} quote{'' if len(expired) == 1 else 's'}.")
