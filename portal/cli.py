"""Commands for the database and the demo (`flask db upgrade`, `demo load`...), and the
`portal` console command: Flask's command line with this app already chosen."""

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup

from portal import migrate

db_cli = AppGroup("db", help="Database migrations.")
demo_cli = AppGroup("demo", help="Sample data for a first look.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database schema up to REVISION (default: the newest)."""
    migrate.upgrade(current_app, revision)
    click.echo(f"Database is at revision {revision}.")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Take the database schema back to REVISION (default: one step back)."""
    migrate.downgrade(current_app, revision)
    click.echo(f"Database is at revision {migrate.current(current_app) or 'base (empty)'}.")


@db_cli.command("current")
def db_current() -> None:
    """Show the revision the database is at, and whether it is the newest."""
    at = migrate.current(current_app)
    head = migrate.head(current_app)
    click.echo(f"Database is at {at or 'base (empty)'}; the newest revision is {head}.")
    if at != head:
        click.echo("Run `flask db upgrade` to bring it up to date.")


@db_cli.command("check")
def db_check() -> None:
    """Fail when the models hold changes no migration describes."""
    problems = migrate.check(current_app)
    if problems:
        raise click.ClickException(f"the models differ from the migrations: {problems}. "
                                   "Write one with `flask db revision -m ...`.")
    click.echo("The models and the migrations agree.")


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


def main() -> None:
    """The `portal` console command: `portal jobs run`, `portal outbox send --loop`..."""
    from portal import create_app

    FlaskGroup(create_app=lambda: create_app(), help="The republishing portal.")()
