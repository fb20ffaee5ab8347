"""The database down: every page, staff pages included, answers 503 with the styled error
page ("try again in a minute"), never a 500; the Stripe webhook answers 503 so that Stripe
retries; /healthz stays up and /readyz says what is missing.

The outage is real: the app's engine is swapped for one whose database cannot be reached
(a SQLite file in a folder that does not exist; PostgreSQL on a port nobody listens on), so
the driver raises its own errors.
"""

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.db import Database
from portal.staff.models import StaffRole
from tests.factories import form_answers, make_article, make_request
from tests.fake_stripe import FakeStripe
from tests.payments_support import post_event, stripe_config
from tests.staff_fixtures import StaffLogin, page_csrf_token
from tests.test_staff_access import dummy_url

TRY_AGAIN = "Please try again in a minute."


@pytest.fixture
def app_overrides(fake_stripe: FakeStripe) -> dict[str, object]:
    return stripe_config(fake_stripe)


def take_database_down(app: Flask, tmp_path: Path) -> None:
    engine = app.extensions["portal.db"].engine
    if engine.dialect.name == "postgresql":
        unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    else:
        unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.sqlite3'}"
    engine.dispose()
    app.extensions["portal.db"] = Database(unreachable, connect_timeout=2)


def get_routes(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint.endswith("static"):
            continue
        urls.append(dummy_url(rule))
    return sorted(set(urls))


def assert_styled_503(response: object, url: str) -> None:
    body = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 503, (url, response.status_code, body[:300])  # type: ignore[attr-defined]
    assert TRY_AGAIN in body, (url, body[:500])
    assert "The Northern Ledger" in body and "/static/portal.css" in body, url
    # a minute (the rate limiter, when it counted the request, gives its own window's rest)
    assert 0 < int(response.headers["Retry-After"]) <= 60  # type: ignore[attr-defined]


def test_every_page_answers_a_styled_503_while_the_database_is_down(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin,
        tmp_path: Path) -> None:
    article = make_article(db)
    make_request(app, db, article=article)
    staff_login(StaffRole.ADMIN)
    staff_csrf = page_csrf_token(client, "/staff/")
    form_csrf = page_csrf_token(client, f"/articles/{article.slug}/republish")
    take_database_down(app, tmp_path)

    answered = {}
    for url in get_routes(app):
        response = client.get(url)
        answered[url] = response.status_code
        assert response.status_code != 500, url
        if response.status_code == 503 and not url.endswith((".json", "z")):
            assert_styled_503(response, url)
    # The pages that read the database all said 503 (the sign-in form, the health check and
    # the static files need none).
    assert answered["/"] == 503
    page = client.get(f"/articles/{article.slug}?from=footer")
    assert_styled_503(page, "article page")
    assert f'href="/articles/{article.slug}?from=footer">Try again' in page.get_data(as_text=True)
    assert answered["/staff/"] == 503 and answered["/staff/rate-card"] == 503
    assert answered["/healthz"] == 200

    # Sending the request form, and a staff action, say the same and keep nothing.
    sent = client.post(f"/articles/{article.slug}/republish",
                       data={**form_answers(), "csrf_token": form_csrf})
    assert_styled_503(sent, "request form")
    assert "Nothing you sent was saved" in sent.get_data(as_text=True)
    quote = client.post("/staff/requests/RR-2026-00001/quote",
                        data={"csrf_token": staff_csrf, "fee": "100", "currency": "GBP"},
                        headers={"Referer": "http://localhost/staff/"})
    assert_styled_503(quote, "staff quote")


def test_the_webhook_and_readiness_answer_503_in_json(
        app: Flask, client: FlaskClient, fake_stripe: FakeStripe, tmp_path: Path) -> None:
    take_database_down(app, tmp_path)
    # A signed event, as Stripe sends it: answered 503, so that Stripe retries it later.
    event = fake_stripe.event("checkout.session.completed", {"id": "cs_test_1",
                                                             "object": "checkout.session"})
    webhook = post_event(client, fake_stripe, event)
    assert webhook.status_code == 503, webhook.get_data(as_text=True)
    assert webhook.is_json and "Retry later" in webhook.json["error"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["database"] == "unreachable"
    verification = client.get("/licences/LIC-2026-000001.json")
    assert verification.status_code == 503 and verification.is_json
    assert client.get("/healthz").status_code == 200


def test_the_portal_recovers_when_the_database_is_back(
        app: Flask, db: Session, client: FlaskClient, tmp_path: Path) -> None:
    article = make_article(db)
    working = app.extensions["portal.db"]
    take_database_down(app, tmp_path)
    assert client.get(f"/articles/{article.slug}").status_code == 503
    app.extensions["portal.db"] = working
    assert client.get(f"/articles/{article.slug}").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_readiness_reports_delayed_mail_and_redis(
        app: Flask, db: Session, client: FlaskClient) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from portal.db import utcnow
    from portal.notifications.models import OutboxEmail
    from tests.conftest import REDIS_URL

    flowing = client.get("/readyz")
    assert flowing.status_code == 200
    assert flowing.json == {"status": "ok", "database": "reachable", "mail": "flowing",
                            "oldest_unsent_mail_seconds": 0}
    make_request(app, db, article=make_article(db))  # queues e-mails to requester and desk
    db.execute(update(OutboxEmail).values(created_at=utcnow() - timedelta(minutes=42)))
    db.commit()
    delayed = client.get("/readyz").json
    assert delayed["status"] == "degraded" and delayed["mail"] == "delayed"
    assert 42 * 60 <= delayed["oldest_unsent_mail_seconds"] < 43 * 60
    # Redis configured but down: still ready (rate limits fall back to memory), and said so.
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    down = client.get("/readyz")
    assert down.status_code == 200 and down.json["redis"] == "unreachable"
    if REDIS_URL:
        app.config["REDIS_URL"] = REDIS_URL
        assert client.get("/readyz").json["redis"] == "reachable"
