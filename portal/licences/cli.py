"""`flask --app portal licences expire`: one periodic job run by hand (`jobs run` runs it
on its schedule)."""

import click
from flask.cli import AppGroup

from portal import db as database
from portal.workflows.periodic import expire_and_remind_licences

licences_cli = AppGroup("licences", help="Licences.")


@licences_cli.command("expire")
def expire() -> None:
    """Expire licences whose term has ended; remind those ending within 14 days."""
    click.echo(expire_and_remind_licences(database.session(), lambda line, problem: click.echo(
        line, err=problem)))
