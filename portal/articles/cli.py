"""`flask --app portal articles ...`: the article catalogue from the command line."""

import click
from flask import current_app
from flask.cli import AppGroup

from portal.articles.importer import FeedError, import_feed
from portal.uow import unit_of_work

articles_cli = AppGroup("articles", help="The article catalogue.")


@articles_cli.command("import")
@click.argument("source", metavar="PATH_OR_URL")
def import_command(source: str) -> None:
    """Import or update articles from a feed file or http(s) URL.

    Reads RSS 2.0 (content:encoded), Atom and JSON Feed 1.1. Running it again updates the
    articles it made instead of duplicating them. A broken feed imports nothing.
    """
    config = current_app.config
    click.echo(f"Importing {source}")
    try:
        with unit_of_work() as db:
            report = import_feed(
                db,
                source,
                agencies=config["AGENCY_CREDITS"],
                max_bytes=int(config["FEED_MAX_BYTES"]),
                timeout=float(config["FEED_TIMEOUT_SECONDS"]),
                progress=click.echo,
                # only a JSON true (PORTAL_FEED_ALLOW_PRIVATE_ADDRESSES=true): "no" stays refused
                allow_private_addresses=config["FEED_ALLOW_PRIVATE_ADDRESSES"] is True,
            )
            # Holders of active licences get the corrected copy, in the same transaction.
            from portal.workflows.takedown import tell_licensees_of_correction

            told = tell_licensees_of_correction(db, report.corrected)
            if told:
                click.echo(f"Told {told} licensee{'' if told == 1 else 's'} of corrections.")
    except FeedError as error:
        # ClickException: the message on stderr, exit status 1, no traceback.
        raise click.ClickException(f"{error} (nothing was imported)") from None
    click.echo(report.summary())
