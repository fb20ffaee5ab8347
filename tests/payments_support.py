"""Helpers for the payment tests: a quoted request, the buyer's browser, signed webhooks."""

import json
import re
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.audit import AuditEvent
from portal.db import utcnow
from portal.licences.models import Licence
from portal.licensing import services
from portal.licensing.models import RepublishRequest
from portal.money import Money
from portal.notifications.models import OutboxEmail
from portal.payments.models import Payment
from tests.factories import make_request
from tests.fake_stripe import FakeStripe

CSRF = re.compile(r'<input[^>]* name="csrf_token"[^>]* value="([^"]+)"')


def stripe_config(fake: FakeStripe) -> dict[str, object]:
    return {
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": fake.api_key,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.base_url,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
    }


class Buyer:
    """The requester's browser on their status page."""

    def __init__(self, app: Flask, url: str) -> None:
        self.client: FlaskClient = app.test_client()
        self.url = url
        self._csrf: str | None = None

    @property
    def token(self) -> str:
        return self.url.rsplit("/", 1)[1]

    def page(self) -> TestResponse:
        return self.client.get(self.url)

    def csrf(self) -> str:
        """The browser session's CSRF token (Flask-WTF keeps one per session)."""
        if self._csrf is None:
            match = CSRF.search(self.page().get_data(as_text=True))
            assert match, "the status page carries a form"
            self._csrf = match.group(1)
        return self._csrf

    def post(self, path: str, **data: object) -> TestResponse:
        return self.client.post(path if path.startswith("/") else f"{self.url}/{path}",
                                data={"csrf_token": self.csrf(), **data})

    def accept(self, version: int = 1) -> TestResponse:
        return self.post("accept", quote_version=version)


def quoted_request(app: Flask, db: Session, *, amount: int = 25000, currency: str = "GBP",
                   valid_days: int = 10, payment_method: str | None = None) -> tuple[int, str]:
    """A request quoted `amount` by staff, and a status-page URL for its requester."""
    request = make_request(app, db)
    with app.test_request_context():
        session = app.extensions["portal.db"].sessionmaker()
        row = session.get(RepublishRequest, request.id)
        assert row is not None
        row.payment_method = payment_method
        services.quote(session, row, services.QuoteInput(
            fee=Money(amount, currency), valid_until=utcnow() + timedelta(days=valid_days)),
            actor="staff:1", currencies=app.config["CURRENCIES"])
        token = services.new_status_token(session, row.id)
        session.commit()
        session.close()
    return request.id, f"/requests/{token}"


def post_event(client: FlaskClient, fake: FakeStripe, event: dict[str, Any], *,
               signature: str | None = None) -> TestResponse:
    payload = json.dumps(event).encode()
    return client.post("/webhooks/stripe", data=payload, content_type="application/json",
                       headers={"Stripe-Signature": signature or fake.sign(payload)})


def send(client: FlaskClient, fake: FakeStripe, type_: str, obj: dict[str, Any]
         ) -> TestResponse:
    response = post_event(client, fake, fake.event(type_, obj))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def state(db: Session, request_id: int) -> str:
    db.expire_all()
    row = db.get(RepublishRequest, request_id)
    assert row is not None
    return row.state.value


def payments(db: Session, request_id: int) -> list[Payment]:
    db.expire_all()
    return list(db.scalars(select(Payment).where(Payment.request_id == request_id)
                           .order_by(Payment.id)))


def licences(db: Session, request_id: int) -> list[Licence]:
    db.expire_all()
    return list(db.scalars(select(Licence).where(Licence.request_id == request_id)))


def count(db: Session, model: type) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def footprint(db: Session) -> tuple[int, ...]:
    """Rows a half-done action would leave behind."""
    return tuple(count(db, model) for model in (Payment, Licence, AuditEvent, OutboxEmail))


def mails_to(db: Session, address: str) -> list[OutboxEmail]:
    db.expire_all()
    return list(db.scalars(select(OutboxEmail).where(OutboxEmail.to_address == address)
                           .order_by(OutboxEmail.id)))
