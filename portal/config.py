"""Configuration: config/default.py, then config/<PORTAL_ENV>.py, then PORTAL_* variables."""

import os
from pathlib import Path
from typing import Any

from flask import Flask

from portal.resources import resource_dir

ENVIRONMENTS = ("development", "test", "production")


class ConfigurationError(RuntimeError):
    """The portal refuses to start with this configuration."""


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    env = (overrides or {}).get("ENV") or os.environ.get("PORTAL_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigurationError(f"PORTAL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    folder = resource_dir("config")
    app.config.from_pyfile(str(folder / "default.py"))
    app.config.from_pyfile(str(folder / f"{env}.py"))
    app.config.from_prefixed_env("PORTAL")
    app.config.update(overrides or {})
    app.config["ENV"] = env
    _normalise(app)
    _check(app)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def _normalise(app: Flask) -> None:
    config = app.config
    instance = Path(app.instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'portal.sqlite3'}"
    if not config.get("MAIL_URL"):
        config["MAIL_URL"] = f"file://{instance / 'mail'}"
    config["CURRENCIES"] = [c.upper() for c in _as_list(config["CURRENCIES"])]
    config["STAFF_NOTIFY_EMAILS"] = _as_list(config["STAFF_NOTIFY_EMAILS"])
    config["AGENCY_CREDITS"] = _as_list(config["AGENCY_CREDITS"])
    config["BASE_URL"] = str(config["BASE_URL"]).rstrip("/")
    # Flask-Limiter reads its storage from its own key; Redis when configured.
    config["RATELIMIT_STORAGE_URI"] = (
        config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL") or "memory://"
    )


def _check(app: Flask) -> None:
    config = app.config
    if config["ENV"] != "production":
        return
    problems = []
    if not config.get("SECRET_KEY"):
        problems.append("PORTAL_SECRET_KEY is not set")
    if config.get("PAYMENT_PROVIDER") == "demo":
        problems.append("the demo payment provider is a stand-in and cannot take real payments")
    if config.get("PAYMENT_PROVIDER") == "stripe" and not config.get("STRIPE_WEBHOOK_SECRET"):
        problems.append("PORTAL_STRIPE_WEBHOOK_SECRET is required with the Stripe provider")
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))
