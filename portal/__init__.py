"""The republishing portal: create_app() wires configuration, extensions, blueprints, commands."""

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import db, logs, security_events
from portal.config import load_config
from portal.extensions import csrf, limiter
from portal.resources import resource_dir


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(resource_dir("templates")),
        instance_relative_config=True,
    )
    load_config(app, overrides)
    logs.init_app(app)  # first: every line after this, and every request, goes through it
    proxies = int(app.config["PROXY_FIX_X_FOR"])
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    security_events.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    from portal.payments.registry import init_app as init_payments
    from portal.staff.auth import init_app as init_auth

    init_payments(app)
    init_auth(app)


def register_blueprints(app: Flask) -> None:
    # Each blueprint module is a table of contents of its routes.
    from portal.licences.tracking import bp as tracking
    from portal.public.routes import BLUEPRINTS as PUBLIC
    from portal.staff.blueprint import bp as staff
    from portal.webhooks.views import bp as webhooks

    for blueprint in (*PUBLIC, tracking, staff, webhooks):
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    from portal.errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from portal.articles.cli import articles_cli
    from portal.cli import db_cli, demo_cli
    from portal.jobs.cli import jobs_cli
    from portal.licences.cli import licences_cli
    from portal.licensing.cli import requests_cli
    from portal.notifications.cli import outbox_cli
    from portal.payments.cli import payments_cli
    from portal.staff.cli import staff_cli

    for group in (db_cli, demo_cli, articles_cli, outbox_cli, staff_cli, requests_cli,
                  payments_cli, licences_cli, jobs_cli):
        app.cli.add_command(group)


def register_template_helpers(app: Flask) -> None:
    from portal.public.templating import init_app

    init_app(app)
