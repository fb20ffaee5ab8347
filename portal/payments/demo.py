"""The demo provider: a stand-in for Stripe, for a first look without Stripe keys.

It keeps its own checkouts (demo_checkouts) and a local, clearly labelled "test payment"
page marks them paid or failed; the portal then learns of it exactly as it does from
Stripe, by fetching the checkout's state and applying it. No money moves. The portal
refuses to start in production with this provider, and its page answers 404 there.
"""

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.money import Money
from portal.payments.models import DemoCheckout
from portal.payments.provider import (
    Checkout,
    CheckoutOrder,
    CheckoutState,
    ProviderError,
    ProviderPayment,
)
from portal.urls import external


class DemoProvider:
    name = "demo"
    fetches_state = True

    def __init__(self, db: Session) -> None:
        self.db = db

    def start_checkout(self, order: CheckoutOrder) -> Checkout:
        checkout = DemoCheckout(
            id="demo_" + secrets.token_urlsafe(18),
            amount_minor=order.amount.minor,
            currency=order.amount.currency,
            status="open",
            payment_status="unpaid",
            expires_at=order.expires_at,
            created_at=utcnow(),
        )
        self.db.add(checkout)
        return Checkout(ref=checkout.id, url=external(f"/payments/demo/{checkout.id}"),
                        expires_at=order.expires_at)

    def _get(self, ref: str) -> DemoCheckout:
        checkout = self.db.get(DemoCheckout, ref)
        if checkout is None:
            raise ProviderError("No such demo checkout.")
        return checkout

    def fetch(self, ref: str) -> ProviderPayment:
        checkout = self._get(ref)
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
                               payment_intent_id=None, refunded_minor=checkout.refunded_minor)

    def expire(self, ref: str) -> None:
        checkout = self._get(ref)
        if checkout.status == "open":
            checkout.status = "expired"

    def refund(self, payment_intent_id: str | None, ref: str, amount_minor: int,
               idempotency_key: str) -> None:
        checkout = self._get(ref)
        if checkout.payment_status != "paid":
            raise ProviderError("This demo checkout was not paid.")
        if checkout.refunded_minor + amount_minor > checkout.amount_minor:
            raise ProviderError("That is more than what remains to refund.")
        checkout.refunded_minor += amount_minor

    # -- The test payment page's buttons (the "buyer" at the demo provider) ----------------

    def pay(self, ref: str) -> DemoCheckout:
        checkout = self._get(ref)
        if checkout.status != "open" or checkout.expires_at <= utcnow():
            raise ProviderError("This test checkout is no longer open.")
        checkout.status, checkout.payment_status = "complete", "paid"
        return checkout

    def fail(self, ref: str) -> DemoCheckout:
        checkout = self._get(ref)
        if checkout.status != "open":
            raise ProviderError("This test checkout is no longer open.")
        checkout.status = "failed"
        return checkout


def is_open(checkout: DemoCheckout, now: datetime | None = None) -> bool:
    return checkout.status == "open" and checkout.expires_at > (now or utcnow())
