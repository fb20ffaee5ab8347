"""Alembic, driven from the app's configuration (there is no alembic.ini)."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from portal.resources import resource_dir


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    config.attributes["engine"] = app.extensions["portal.db"].engine
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    command.upgrade(alembic_config(app), revision)


def make_revision(app: Flask, message: str) -> None:
    command.revision(alembic_config(app), message=message, autogenerate=True)


def downgrade(app: Flask, revision: str = "-1") -> None:
    command.downgrade(alembic_config(app), revision)


def current(app: Flask) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with app.extensions["portal.db"].engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head(app: Flask) -> str | None:
    return ScriptDirectory.from_config(alembic_config(app)).get_current_head()


def check(app: Flask) -> list[object]:
    """What the models hold that the database (at its revision) lacks, or the reverse."""
    from portal.models import Base

    with app.extensions["portal.db"].engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))
