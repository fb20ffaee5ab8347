"""The invoice provider: the buyer gets an invoice and pays by bank transfer; staff record
the transfer when it arrives. The portal is its own provider here, so there is nothing to
fetch or expire elsewhere: the payment row is the state. Invoice numbers are handed out in
a transaction of their own (a number lost to a failure leaves a gap, never a duplicate)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.payments.provider import (
    Checkout,
    CheckoutOrder,
    EventKind,
    OpenCheckout,
    ProviderDispute,
    ProviderError,
    ProviderPayment,
    WebhookEvent,
)
from portal.sequences import next_value

NOTHING_TO_FETCH = "Invoices are marked paid by staff; there is nothing to fetch."


class InvoiceProvider:
    name = "invoice"
    fetches_state = False
    checkout_origins: tuple[str, ...] = ()

    def __init__(self, sessions: Callable[[], Session], *, due_days: int) -> None:
        self._sessions = sessions
        self.due_days = due_days

    def start_checkout(self, order: CheckoutOrder) -> Checkout:
        year = utcnow().year
        with self._sessions() as db, db.begin():
            number = f"INV-{year}-{next_value(db, f'invoice-{year}'):05d}"
        due = utcnow() + timedelta(days=self.due_days)
        return Checkout(ref=number, url=order.cancel_url, expires_at=due)

    def fetch(self, ref: str) -> ProviderPayment:
        raise ProviderError(NOTHING_TO_FETCH)

    def expire(self, ref: str) -> None:
        """An invoice is cancelled by the payment row's status alone."""

    def refund(self, payment_intent_id: str | None, ref: str, amount_minor: int,
               idempotency_key: str) -> None:
        """Staff send the money back by bank transfer; the portal records it."""

    def list_open_checkouts(self, created_after: datetime) -> list[OpenCheckout]:
        return []

    def parse_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        raise ProviderError(NOTHING_TO_FETCH)

    def event_kind(self, event: WebhookEvent) -> EventKind:
        return EventKind.IGNORED

    def payment_intent_of_charge(self, charge_id: str) -> tuple[str | None, dict[str, str]]:
        raise ProviderError(NOTHING_TO_FETCH)

    def fetch_dispute(self, dispute_id: str) -> tuple[ProviderDispute, dict[str, str]]:
        raise ProviderError(NOTHING_TO_FETCH)
