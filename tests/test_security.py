"""Headers and hosts: what every answer carries, and which Host headers get one at all.

docs/security.md lists these promises with the test that shows each.
"""

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal import create_app
from portal.staff.models import StaffRole
from tests.factories import make_article
from tests.payments_support import quoted_request
from tests.staff_fixtures import StaffLogin

PRODUCTION = {"PORTAL_ENV": "production",
              "PORTAL_SECRET_KEY": "a-production-secret-of-32-bytes-at-least",
              "PORTAL_STRIPE_WEBHOOK_SECRET": "whsec_x", "PORTAL_STRIPE_SECRET_KEY": "sk_live_x",
              "PORTAL_BASE_URL": "https://licensing.example.com",
              "PORTAL_MAIL_URL": "smtp://mail.example.com:587?starttls=1"}


def production_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Flask:
    for key, value in {**PRODUCTION, "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                       **env}.items():
        monkeypatch.setenv(key, value)
    return create_app()


# --- hosts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/staff/login", "/healthz"])
def test_a_request_naming_another_host_gets_the_styled_400(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Host": "evil.test"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This address is not one the portal answers to" in page
    assert 'href="/static/portal.css"' in page  # the site's own look, links to its own host
    assert "evil.test" not in page
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:54321"])
def test_the_test_and_development_hosts_are_answered(client: FlaskClient, host: str) -> None:
    # Browser tests reach a live server on 127.0.0.1 at a port chosen after create_app.
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_production_answers_only_its_base_url_host_and_the_extra_hosts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = production_app(monkeypatch, tmp_path, PORTAL_EXTRA_HOSTS="portal.internal, 10.0.0.5")
    assert app.config["TRUSTED_HOSTS"] == ["licensing.example.com", "portal.internal", "10.0.0.5"]
    client = app.test_client()
    for host in ("licensing.example.com", "portal.internal:8000", "10.0.0.5"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    for host in ("localhost", "127.0.0.1:8000", "evil.test", "licensing.example.com.evil.test"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 400, host


# --- headers -------------------------------------------------------------------------------


def csp(form_action: str) -> str:
    return ("default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
            "script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
            f"form-action {form_action}; base-uri 'none'")


@pytest.fixture
def app_overrides() -> dict[str, object]:
    # The Stripe provider set up (never called here): its checkout origin is in form-action.
    return {"PAYMENT_PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_test_x",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "STRIPE_CHECKOUT_ORIGINS": ["https://checkout.stripe.com"]}


def test_the_whole_content_security_policy_of_public_request_and_staff_pages(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    make_article(db)
    public = client.get("/articles/harbour-wind")
    assert public.status_code == 200
    assert public.headers["Content-Security-Policy"] == csp("'self'")

    _request_id, status_path = quoted_request(app, db)
    status_page = client.get(status_path)
    assert status_page.status_code == 200
    # "Accept and pay" is answered by a redirect to Stripe's hosted page.
    assert status_page.headers["Content-Security-Policy"] == csp(
        "'self' https://checkout.stripe.com")

    staff_login(StaffRole.LICENSING)
    staff = client.get("/staff/")
    assert staff.status_code == 200
    assert staff.headers["Content-Security-Policy"] == csp("'self'")


def test_production_pins_https_and_isolates_its_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    response = production_app(monkeypatch, tmp_path).test_client().get(
        "/healthz", headers={"Host": "licensing.example.com"})
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "object-src 'none'" in response.headers["Content-Security-Policy"]


def test_only_production_sends_strict_transport_security(client: FlaskClient) -> None:
    # A developer's http://127.0.0.1 must not be pinned to https for a year.
    response = client.get("/healthz")
    assert "Strict-Transport-Security" not in response.headers
    assert "Cross-Origin-Opener-Policy" not in response.headers
