"""`flask --app portal licences ...`: time-based changes to licences (run daily from cron)."""

import click
from flask.cli import AppGroup

from portal.uow import unit_of_work
from portal.licences.services import expire_licences, remind_renewals

licences_cli = AppGroup("licences", help="Licences.")


@licences_cli.command("expire")
def expire() -> None:
    """Expire licences whose term has ended; remind those ending within 14 days."""
    with unit_of_work() as db:
        ended = expire_licences(db)
        for licence in ended:
            click.echo(f"  expired   {licence.number}  {licence.licensee}")
        reminded = remind_renewals(db)
        for licence in reminded:
            click.echo(f"  reminded  {licence.number}  ends {licence.ends_on:%Y-%m-%d}")
    click.echo(f"Expired {len(ended)} licence{'' if len(ended) == 1 else 's'}; "
               f"reminded {len(reminded)} of an end within 14 days.")
