"""Configuration: config/default.py, then config/<PORTAL_ENV>.py, then PORTAL_* variables."""

import os
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from portal.resources import resource_dir

ENVIRONMENTS = ("development", "test", "production")
PAYMENT_PROVIDERS = ("stripe", "invoice", "demo")
# from_prefixed_env reads values as JSON when it can (PORTAL_SECRET_KEY=2024 would be an int):
# these settings are text whatever they look like.
TEXT_KEYS = (
    "SECRET_KEY", "DATABASE_URL", "BASE_URL", "PAYMENT_PROVIDER", "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "MAIL_URL", "MAIL_FROM", "REDIS_URL",
    "PUBLISHER_NAME", "PUBLISHER_SITE_URL", "PUBLISHER_ACCENT_COLOUR", "PUBLISHER_LOGO_URL",
    "LICENSING_CONTACT_EMAIL", "REPUBLISH_RATE_LIMIT", "PUBLISHER_ADDRESS",
    "PUBLISHER_BANK_DETAILS", "PUBLISHER_VAT_ID",
)


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
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [str(value)]


def _development_secret(instance: Path) -> str:
    """A random secret kept in the instance folder: development never runs on a known key."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def trusted_hosts(config: dict[str, Any]) -> list[str]:
    """The hosts whose requests are answered (Flask's TRUSTED_HOSTS; others get 400).

    BASE_URL's host and EXTRA_HOSTS; development and test also answer on this machine's own
    names, where browsers and live servers reach them on a port chosen at run time.
    """
    hosts = [urlsplit(str(config["BASE_URL"])).hostname or "", *config["EXTRA_HOSTS"]]
    if config["ENV"] != "production":
        hosts += ["localhost", "127.0.0.1"]
    return list(dict.fromkeys(host.lower() for host in hosts if host))


def _normalise(app: Flask) -> None:
    config = app.config
    instance = Path(app.instance_path)
    for key in TEXT_KEYS:
        if config.get(key) is not None and not isinstance(config[key], str):
            config[key] = str(config[key])
    if not config.get("SECRET_KEY") and config["ENV"] == "development":
        config["SECRET_KEY"] = _development_secret(instance)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'portal.sqlite3'}"
    if not config.get("MAIL_URL"):
        config["MAIL_URL"] = f"file://{instance / 'mail'}"
    config["CURRENCIES"] = [c.upper() for c in _as_list(config["CURRENCIES"])]
    config["STAFF_NOTIFY_EMAILS"] = _as_list(config["STAFF_NOTIFY_EMAILS"])
    config["AGENCY_CREDITS"] = _as_list(config["AGENCY_CREDITS"])
    config["STRIPE_CHECKOUT_ORIGINS"] = _as_list(config["STRIPE_CHECKOUT_ORIGINS"])
    config["BASE_URL"] = str(config["BASE_URL"]).rstrip("/")
    config["EXTRA_HOSTS"] = _as_list(config.get("EXTRA_HOSTS") or [])
    if config.get("TRUSTED_HOSTS") is None:
        config["TRUSTED_HOSTS"] = trusted_hosts(config)
    # Flask-Limiter reads its storage from its own key; Redis when configured.
    config["RATELIMIT_STORAGE_URI"] = (
        config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL") or "memory://"
    )


# Sessions and CSRF tokens are signed with the secret key: production wants 256 bits of it.
SECRET_KEY_MINIMUM_BYTES = 32

# OWASP's minimum for argon2id (2 passes over 19 MiB, one lane): production hashes staff
# passwords at least this hard. The test suite's cheap profile (config/test.py) is far below.
ARGON2_MINIMUM = {"ARGON2_TIME_COST": 2, "ARGON2_MEMORY_COST": 19 * 1024, "ARGON2_PARALLELISM": 1}


def _weak_password_hashing(config: dict[str, Any]) -> list[str]:
    problems = []
    for key, minimum in ARGON2_MINIMUM.items():
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            problems.append(f"PORTAL_{key} must be a whole number of at least {minimum}, "
                            f"not {value!r} (staff passwords would be cheap to guess)")
    return problems


def _check(app: Flask) -> None:
    config = app.config
    if config["PAYMENT_PROVIDER"] not in PAYMENT_PROVIDERS:
        raise ConfigurationError(
            f"PORTAL_PAYMENT_PROVIDER must be one of {', '.join(PAYMENT_PROVIDERS)}, "
            f"not {config['PAYMENT_PROVIDER']!r}")
    if not config["CURRENCIES"] or not all(re.fullmatch(r"[A-Z]{3}", c) for c in config["CURRENCIES"]):
        raise ConfigurationError("PORTAL_CURRENCIES must list ISO 4217 codes, like EUR,GBP")
    if config["ENV"] != "production":
        return
    problems = []
    if not config["BASE_URL"].startswith("https://"):
        problems.append("PORTAL_BASE_URL must be the portal's public https:// address "
                        "(it goes into every e-mailed link)")
    if config["MAIL_URL"].startswith("file://"):
        problems.append("PORTAL_MAIL_URL must name an SMTP server (smtp:// or smtps://)")
    if not config.get("SECRET_KEY"):
        problems.append("PORTAL_SECRET_KEY is not set")
    elif len(str(config["SECRET_KEY"]).encode()) < SECRET_KEY_MINIMUM_BYTES:
        problems.append(f"PORTAL_SECRET_KEY must be at least {SECRET_KEY_MINIMUM_BYTES} bytes long "
                        "(a short key lets sessions and CSRF tokens be forged; make one with "
                        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
    if config.get("PAYMENT_PROVIDER") == "demo":
        problems.append("the demo payment provider is a stand-in and cannot take real payments")
    if config.get("PAYMENT_PROVIDER") == "stripe" and not config.get("STRIPE_WEBHOOK_SECRET"):
        problems.append("PORTAL_STRIPE_WEBHOOK_SECRET is required with the Stripe provider")
    if config.get("PAYMENT_PROVIDER") == "stripe" and not config.get("STRIPE_SECRET_KEY"):
        problems.append("PORTAL_STRIPE_SECRET_KEY is required with the Stripe provider")
    problems.extend(_weak_password_hashing(config))
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))
