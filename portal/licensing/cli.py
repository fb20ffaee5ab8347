"""`flask --app portal requests expire`: one periodic job run by hand (`jobs run` runs it
on its schedule)."""

import click
from flask.cli import AppGroup

from portal import db as database
from portal.workflows.periodic import expire_requests

requests_cli = AppGroup("requests", help="Republishing requests.")


@requests_cli.command("expire")
def expire() -> None:
    """Expire quotes whose validity has ended, and tell each requester."""
    click.echo(expire_requests(database.session(), lambda line, problem: click.echo(
        line, err=problem)))
