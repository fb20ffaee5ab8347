"""The demo provider: a stand-in for Stripe, for a first look without Stripe keys.

It keeps its own checkouts (demo_checkouts), each call in a database session and
transaction of its own, as a remote provider keeps its records; a local, clearly labelled
"test payment" page marks them paid or failed and sends the buyer to the checkout's
success address, as Stripe's hosted page does. The portal then learns of it exactly as it
does from Stripe, by fetching the checkout's state and applying it. No money moves. The
portal refuses to start in production with this provider, and its page answers 404 there.
"""

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.money import Money
from portal.payments.models import DemoCheckout
from portal.payments.provider import (
    Checkout,
    CheckoutOrder,
    CheckoutState,
    EventKind,
    OpenCheckout,
    ProviderDispute,
    ProviderError,
    ProviderPayment,
    WebhookEvent,
)
from portal.urls import link

NO_EVENTS = "The demo provider sends no events."


class DemoProvider:
    name = "demo"
    fetches_state = True
    #: the test payment page is the portal's own
    checkout_origins: tuple[str, ...] = ()

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions

    @contextmanager
    def _records(self) -> Iterator[Session]:
        """The demo provider's own unit of work, apart from the portal's."""
        with self._sessions() as db, db.begin():
            yield db

    def start_checkout(self, order: CheckoutOrder) -> Checkout:
        ref = "demo_" + secrets.token_urlsafe(18)
        with self._records() as db:
            db.add(DemoCheckout(
                id=ref, amount_minor=order.amount.minor, currency=order.amount.currency,
                status="open", payment_status="unpaid", expires_at=order.expires_at,
                success_url=order.success_url, cancel_url=order.cancel_url,
                created_at=utcnow()))
        return Checkout(ref=ref, url=link("payments.demo_checkout", ref=ref),
                        expires_at=order.expires_at)

    @staticmethod
    def _get(db: Session, ref: str) -> DemoCheckout:
        checkout = db.get(DemoCheckout, ref)
        if checkout is None:
            raise ProviderError("No such demo checkout.")
        return checkout

    def fetch(self, ref: str) -> ProviderPayment:
        with self._records() as db:
            checkout = self._get(db, ref)
            if checkout.status == "open" and checkout.expires_at <= utcnow():
                checkout.status = "expired"
            if checkout.payment_status == "paid":
                state = CheckoutState.PAID
            elif checkout.status == "expired":
                state = CheckoutState.EXPIRED
            elif checkout.status == "failed":
                state = CheckoutState.FAILED
            else:
                state = CheckoutState.OPEN
            return ProviderPayment(ref=ref, state=state,
                                   amount=Money(checkout.amount_minor, checkout.currency),
                                   payment_intent_id=None,
                                   refunded_minor=checkout.refunded_minor)

    def expire(self, ref: str) -> None:
        with self._records() as db:
            checkout = self._get(db, ref)
            if checkout.status == "open":
                checkout.status = "expired"

    def refund(self, payment_intent_id: str | None, ref: str, amount_minor: int,
               idempotency_key: str) -> None:
        with self._records() as db:
            checkout = self._get(db, ref)
            if checkout.payment_status != "paid":
                raise ProviderError("This demo checkout was not paid.")
            if checkout.refunded_minor + amount_minor > checkout.amount_minor:
                raise ProviderError("That is more than what remains to refund.")
            checkout.refunded_minor += amount_minor

    def list_open_checkouts(self, created_after: datetime) -> list[OpenCheckout]:
        with self._records() as db:
            rows = db.scalars(select(DemoCheckout).where(
                DemoCheckout.status == "open", DemoCheckout.created_at >= created_after,
                DemoCheckout.expires_at > utcnow()))
            return [OpenCheckout(ref=row.id, created_at=row.created_at) for row in rows]

    def parse_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        raise ProviderError(NO_EVENTS)

    def event_kind(self, event: WebhookEvent) -> EventKind:
        return EventKind.IGNORED

    def payment_intent_of_charge(self, charge_id: str) -> tuple[str | None, dict[str, str]]:
        raise ProviderError(NO_EVENTS)

    def fetch_dispute(self, dispute_id: str) -> tuple[ProviderDispute, dict[str, str]]:
        raise ProviderError(NO_EVENTS)

    # -- The test payment page's buttons (the "buyer" at the demo provider) ----------------

    def pay(self, ref: str) -> str:
        """The test buyer pays; returns where the buyer goes next (the success address)."""
        with self._records() as db:
            checkout = self._get(db, ref)
            if checkout.status != "open" or checkout.expires_at <= utcnow():
                raise ProviderError("This test checkout is no longer open.")
            checkout.status, checkout.payment_status = "complete", "paid"
            return checkout.success_url or ""

    def fail(self, ref: str) -> str:
        with self._records() as db:
            checkout = self._get(db, ref)
            if checkout.status != "open":
                raise ProviderError("This test checkout is no longer open.")
            checkout.status = "failed"
            return checkout.success_url or ""


def is_open(checkout: DemoCheckout, now: datetime | None = None) -> bool:
    return checkout.status == "open" and checkout.expires_at > (now or utcnow())
