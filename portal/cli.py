"""Commands for the database and the demo: `flask --app portal db upgrade`, `demo load`."""

import click
from flask import current_app
from flask.cli import AppGroup

from portal import migrate

db_cli = AppGroup("db", help="Database migrations.")
demo_cli = AppGroup("demo", help="Sample data for a first look.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to REVISION (default: the newest)."""
    migrate.upgrade(current_app, revision)
    click.echo(f"Database is at revision {revision}.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the migration changes.")
def db_revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    migrate.make_revision(current_app, message)


@demo_cli.command("load")
def demo_load() -> None:
    """Load sample articles (idempotent), for a first look at the portal."""
    from portal.demo import DemoRefused, load_demo

    try:
        for line in load_demo():
            click.echo(line)
    except DemoRefused as error:
        raise click.ClickException(str(error)) from None
