"""Configuration layering and the production refusals."""

from pathlib import Path

import pytest

from portal import create_app
from portal.config import ConfigurationError


def test_environment_variables_override_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PORTAL_PUBLISHER_NAME", "The Valley Courier")
    monkeypatch.setenv("PORTAL_CURRENCIES", "eur, nok")
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    app = create_app({"ENV": "test"})
    assert app.config["PUBLISHER_NAME"] == "The Valley Courier"
    assert app.config["CURRENCIES"] == ["EUR", "NOK"]
    assert app.config["SECRET_KEY"] == "test-secret"  # from config/test.py


def test_redis_url_moves_rate_limits_to_redis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    assert create_app({"ENV": "test"}).config["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("PORTAL_REDIS_URL", "redis://127.0.0.1:6379/3")
    assert create_app({"ENV": "test"}).config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_ENV", "staging")
    with pytest.raises(ConfigurationError, match="PORTAL_ENV must be one of"):
        create_app()


@pytest.mark.parametrize(("env", "message"), [
    ({}, "PORTAL_SECRET_KEY is not set"),
    ({"PORTAL_SECRET_KEY": "s3cret", "PORTAL_PAYMENT_PROVIDER": "demo",
      "PORTAL_STRIPE_WEBHOOK_SECRET": "whsec_x"}, "demo payment provider"),
    ({"PORTAL_SECRET_KEY": "s3cret", "PORTAL_PAYMENT_PROVIDER": "stripe"},
     "PORTAL_STRIPE_WEBHOOK_SECRET is required"),
])
def test_production_refuses_unsafe_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match=message):
        create_app()


PRODUCTION = {"PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "a-production-secret-of-32-bytes-at-least",
              "PORTAL_STRIPE_WEBHOOK_SECRET": "whsec_x", "PORTAL_STRIPE_SECRET_KEY": "sk_live_x",
              "PORTAL_BASE_URL": "https://licensing.example.com",
              "PORTAL_MAIL_URL": "smtp://mail.example.com:587?starttls=1"}


def test_production_starts_when_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in {**PRODUCTION, "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    assert app.config["ENV"] == "production" and app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(("change", "message"), [
    ({"PORTAL_BASE_URL": "http://127.0.0.1:5000"}, "public https:// address"),
    ({"PORTAL_MAIL_URL": "file:///tmp/mail"}, "must name an SMTP server"),
    ({"PORTAL_PAYMENT_PROVIDER": "paypal"}, "must be one of stripe, invoice, demo"),
    ({"PORTAL_CURRENCIES": "euro"}, "ISO 4217"),
    ({"PORTAL_STRIPE_SECRET_KEY": ""}, "PORTAL_STRIPE_SECRET_KEY is required"),
])
def test_production_refuses_links_and_mail_that_cannot_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    for key, value in {**PRODUCTION, "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                       **change}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match=message):
        create_app()


@pytest.mark.parametrize("secret", ["s3cret", "x" * 31, "é" * 15 + "x"])  # the last: 31 bytes
def test_production_refuses_a_secret_key_shorter_than_32_bytes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str
) -> None:
    for key, value in {**PRODUCTION, "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                       "PORTAL_SECRET_KEY": secret}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match="PORTAL_SECRET_KEY must be at least 32 bytes"):
        create_app()
    monkeypatch.setenv("PORTAL_SECRET_KEY", "x" * 32)
    assert create_app().config["SECRET_KEY"] == "x" * 32


@pytest.mark.parametrize(("change", "message"), [
    ({"PORTAL_ARGON2_TIME_COST": "1"},
     "PORTAL_ARGON2_TIME_COST must be a whole number of at least 2"),
    ({"PORTAL_ARGON2_MEMORY_COST": "1024"},
     "PORTAL_ARGON2_MEMORY_COST must be a whole number of at least 19456"),
    ({"PORTAL_ARGON2_PARALLELISM": "0"}, "PORTAL_ARGON2_PARALLELISM must be a whole number"),
    ({"PORTAL_ARGON2_MEMORY_COST": "lots"}, "PORTAL_ARGON2_MEMORY_COST must be a whole number"),
])
def test_production_refuses_cheap_password_hashing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    for key, value in {**PRODUCTION, "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                       **change}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match=message):
        create_app()


def test_the_test_profile_hashes_cheaply_and_production_hashes_at_full_strength(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from argon2 import extract_parameters

    from portal.staff.auth import hash_password

    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    with create_app({"ENV": "test"}).app_context():
        cheap = extract_parameters(hash_password("a long enough secret"))
    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    with create_app().app_context():
        strong = extract_parameters(hash_password("a long enough secret"))
    assert (cheap.time_cost, cheap.memory_cost, cheap.parallelism) == (1, 1024, 1)
    assert (strong.time_cost, strong.memory_cost, strong.parallelism) == (3, 64 * 1024, 4)


def test_a_secret_that_looks_like_a_number_stays_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in {**PRODUCTION, "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                       "PORTAL_SECRET_KEY": "20240917123456789012345678901234"}.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    assert app.config["SECRET_KEY"] == "20240917123456789012345678901234"
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context("/"):
        assert generate_csrf()  # signs with the secret: an int would raise TypeError


def test_development_makes_its_own_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    first = create_app({"ENV": "development"})
    second = create_app({"ENV": "development"})
    secret = first.config["SECRET_KEY"]
    assert len(secret) >= 40 and secret == second.config["SECRET_KEY"]
    assert (Path(first.instance_path) / "secret_key").read_text().strip() == secret
