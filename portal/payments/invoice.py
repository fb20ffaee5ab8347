"""The invoice provider: the buyer gets an invoice and pays by bank transfer; staff record
the transfer when it arrives. The portal is its own provider here, so there is nothing to
fetch or expire elsewhere: the payment row is the state."""

from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.payments.provider import Checkout, CheckoutOrder, ProviderError, ProviderPayment
from portal.sequences import next_value


class InvoiceProvider:
    name = "invoice"
    fetches_state = False

    def __init__(self, db: Session) -> None:
        self.db = db

    def start_checkout(self, order: CheckoutOrder) -> Checkout:
        year = utcnow().year
        number = f"INV-{year}-{next_value(self.db, f'invoice-{year}'):05d}"
        due = utcnow() + timedelta(days=int(current_app.config["INVOICE_DUE_DAYS"]))
        return Checkout(ref=number, url=order.cancel_url, expires_at=due)

    def fetch(self, ref: str) -> ProviderPayment:
        raise ProviderError("Invoices are marked paid by staff; there is nothing to fetch.")

    def expire(self, ref: str) -> None:
        """An invoice is cancelled by the payment row's status alone."""

    def refund(self, payment_intent_id: str | None, ref: str, amount_minor: int,
               idempotency_key: str) -> None:
        """Staff send the money back by bank transfer; the portal records it."""
