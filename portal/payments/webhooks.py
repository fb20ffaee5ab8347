"""Applying a verified Stripe event: find our payment, fetch the object back, apply it.

The event's own copy of the object is never trusted for the outcome: it may be old (events
arrive late and out of order), so the current object is fetched from Stripe. The event id
is recorded in the same transaction as the effects, so a replay does nothing.
"""

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.payments.models import Payment, PaymentProvider, ProviderEvent
from portal.payments.provider import ProviderNotFound
from portal.payments.services import (
    apply_dispute,
    apply_provider_payment,
    payment_by_ref,
    provider_actor,
)
from portal.payments.stripe_provider import HANDLED_EVENTS, StripeProvider, WebhookEvent

log = logging.getLogger(__name__)
ACTOR = provider_actor("stripe")


def is_applied(db: Session, event_id: str) -> bool:
    return db.get(ProviderEvent, event_id) is not None


def _payment_for_intent(db: Session, intent_id: str | None,
                        metadata: dict[str, str]) -> Payment | None:
    if intent_id:
        payment = db.scalar(select(Payment).where(Payment.payment_intent_id == intent_id))
        if payment is not None:
            return payment
    # The PaymentIntent carries our payment id and request reference: a refund or dispute
    # reported before the checkout's completion still finds its payment. Both must match
    # (another portal on the same Stripe account has payments with the same ids).
    payment_id = metadata.get("payment_id", "")
    if payment_id.isdigit() and len(payment_id) < 12:
        payment = db.get(Payment, int(payment_id))
        if (payment is not None and payment.provider == PaymentProvider.STRIPE
                and payment.request.reference == metadata.get("request")
                and payment.payment_intent_id in (None, intent_id)):
            return payment
    return None


def handle_event(db: Session, provider: StripeProvider, event: WebhookEvent) -> str:
    """Apply the event in `db`'s transaction and say what became of it."""
    if is_applied(db, event.id):
        return "already applied"
    try:
        outcome = _apply(db, provider, event)
    except ProviderNotFound:
        # Stripe no longer has the object (or never had it for this account): nothing to do,
        # and answering 200 stops Stripe retrying for days.
        db.rollback()
        outcome = "its object is unknown to Stripe"
    db.add(ProviderEvent(id=event.id, provider="stripe", type=event.type,
                         received_at=utcnow()))
    # Flushed now so a concurrent delivery of the same event fails here, before commit.
    db.flush()
    log.info("stripe event %s (%s): %s", event.id, event.type, outcome)
    return outcome


def _apply(db: Session, provider: StripeProvider, event: WebhookEvent) -> str:
    if event.type not in HANDLED_EVENTS:
        return "ignored"
    if event.type.startswith("checkout.session."):
        payment = payment_by_ref(db, PaymentProvider.STRIPE, event.object_id)
        if payment is None:
            return "not a checkout of this portal"
        apply_provider_payment(db, payment, provider.fetch(event.object_id), actor=ACTOR)
        return f"payment {payment.id} is {payment.status.value}"
    if event.type == "charge.refunded":
        intent_id, metadata = provider.payment_intent_of_charge(event.object_id)
        payment = _payment_for_intent(db, intent_id, metadata)
        if payment is None or payment.provider_ref is None:
            return "not a payment of this portal"
        apply_provider_payment(db, payment, provider.fetch(payment.provider_ref), actor=ACTOR)
        return f"payment {payment.id} is {payment.status.value}"
    # charge.dispute.created / charge.dispute.closed
    dispute, metadata = provider.fetch_dispute(event.object_id)
    payment = _payment_for_intent(db, dispute.payment_intent_id, metadata)
    if payment is None or payment.provider_ref is None:
        return "not a payment of this portal"
    # A dispute reported before the payment's own events: apply the payment first.
    payment = apply_provider_payment(db, payment, provider.fetch(payment.provider_ref),
                                     actor=ACTOR)
    apply_dispute(db, payment, dispute, actor=ACTOR)
    return f"payment {payment.id} is {payment.status.value}"
