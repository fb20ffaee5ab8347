"""Alembic, driven from the app's configuration (there is no alembic.ini)."""

from alembic import command
from alembic.config import Config
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
