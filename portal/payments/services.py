"""Paying for a quote: start a checkout, apply what the provider reports, refund.

The portal acts only on what a provider itself reports (a verified webhook, or the
checkout fetched back from the provider), never on the buyer's browser. Whatever order
reports arrive in, and however often, applying them gives the same outcome: a payment
only moves forward, money received is recorded once, and a licence is issued once, and
only when the payment matches the accepted quote of a request that is waiting for it.
Everything here runs in the caller's transaction; the caller commits.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.licences.models import Licence, LicenceStatus
from portal.licences.services import issue_licence, licence_of, set_status
from portal.licensing.lifecycle import Action, RequestState, apply_transition, record_event
from portal.licensing.models import Quote, QuoteStatus, RepublishRequest
from portal.money import Money
from portal.licensing.notify import requester_update, update_staff
from portal.payments.demo import DemoProvider
from portal.payments.invoice import InvoiceProvider
from portal.payments.models import Payment, PaymentProvider, PaymentStatus
from portal.payments.provider import (
    CheckoutOrder,
    CheckoutState,
    DisputeOutcome,
    PaymentProviderBackend,
    ProviderDispute,
    ProviderError,
    ProviderPayment,
)
from portal.payments.stripe_provider import StripeProvider

log = logging.getLogger(__name__)

REQUESTER = "requester"
#: Stripe takes a Checkout Session that ends between 30 minutes and 24 hours from now.
CHECKOUT_MIN = timedelta(minutes=31)
CHECKOUT_MAX = timedelta(hours=23, minutes=55)
#: an open checkout is sent to again only when it has at least this long left
CHECKOUT_REUSE_MARGIN = timedelta(minutes=10)


class PaymentError(Exception):
    """A payment action that cannot be done as asked (HTTP 409 or 422)."""


def provider_actor(name: str) -> str:
    return f"provider:{name}"


# -- Providers ------------------------------------------------------------------------------

def stripe_provider() -> StripeProvider:
    """The app's Stripe client (one per app: it keeps its HTTP connections)."""
    provider: StripeProvider | None = current_app.extensions.get("portal.stripe")
    if provider is None:
        config = current_app.config
        provider = StripeProvider(
            config.get("STRIPE_SECRET_KEY") or "",
            webhook_secret=config.get("STRIPE_WEBHOOK_SECRET"),
            api_base=config.get("STRIPE_API_BASE"),
            max_network_retries=int(config["STRIPE_MAX_NETWORK_RETRIES"]),
        )
        current_app.extensions["portal.stripe"] = provider
    return provider


def backend(db: Session, name: str) -> PaymentProviderBackend:
    if name == PaymentProvider.STRIPE:
        return stripe_provider()
    if name == PaymentProvider.DEMO:
        if current_app.config["ENV"] == "production":
            raise ProviderError("The demo payment provider is a stand-in and takes no real "
                                "payments; it is refused in production.")
        return DemoProvider(db)
    if name == PaymentProvider.INVOICE:
        return InvoiceProvider(db)
    raise ProviderError(f"Unknown payment provider {name!r}.")


def method_for(request: RepublishRequest) -> PaymentProvider:
    """How this request is paid: its own choice (an institution paying by invoice), or the
    portal's provider."""
    return PaymentProvider(request.payment_method or current_app.config["PAYMENT_PROVIDER"])


# -- Reading --------------------------------------------------------------------------------

def payments_of(db: Session, request: RepublishRequest) -> list[Payment]:
    return list(db.scalars(select(Payment).where(Payment.request_id == request.id)
                           .order_by(Payment.id)))


def latest_payment(db: Session, request: RepublishRequest) -> Payment | None:
    return db.scalar(select(Payment).where(Payment.request_id == request.id)
                     .order_by(Payment.id.desc()).limit(1))


def payment_by_ref(db: Session, provider: str, ref: str) -> Payment | None:
    return db.scalar(select(Payment).where(Payment.provider == provider,
                                           Payment.provider_ref == ref))


def _lock(db: Session, payment: Payment) -> Payment:
    """Re-read the payment under a row lock (PostgreSQL), so concurrent reports of the same
    payment take turns; its version column catches what slips through on SQLite. The
    request's row is locked first, as every other change of a request does, so that the
    two locks are always taken in the same order (no deadlock with a staff action)."""
    _lock_request(db, payment.request_id)
    locked = db.scalars(select(Payment).where(Payment.id == payment.id)
                        .with_for_update().execution_options(populate_existing=True)).one()
    return locked


def _lock_request(db: Session, request_id: int) -> None:
    db.execute(select(RepublishRequest.id).where(RepublishRequest.id == request_id)
               .with_for_update())


# -- Starting a payment ---------------------------------------------------------------------

def checkout_expiry(quote: Quote, now: datetime) -> datetime:
    """When a checkout for this quote stops taking payment: never after the quote's
    validity, and within what Stripe takes (30 minutes to 24 hours)."""
    expires = min(quote.valid_until, now + CHECKOUT_MAX)
    if expires < now + CHECKOUT_MIN:
        raise PaymentError("This quote ends in less than half an hour, too soon to pay "
                           "online. Please write to the licensing desk for a new quote.")
    return expires


def _is_reusable(payment: Payment, method: str, now: datetime) -> bool:
    if payment.status != PaymentStatus.OPEN or payment.provider != method:
        return False
    if payment.provider == PaymentProvider.INVOICE:
        return True  # the same invoice stands until it is paid or cancelled
    return (payment.checkout_url is not None and payment.expires_at is not None
            and payment.expires_at > now + CHECKOUT_REUSE_MARGIN)


def start_payment(db: Session, request: RepublishRequest, *, return_url: str,
                  cancel_url: str) -> Payment:
    """A checkout for the request's accepted quote: the open one when it still has time,
    or a new attempt. Raises ProviderError (nothing is kept: the caller rolls back)."""
    _lock_request(db, request.id)  # a double click waits here for the first click's answer
    method = method_for(request)
    quote = request.current_quote
    attempts = [p for p in payments_of(db, request) if quote is not None
                and p.quote_id == quote.id]
    if any(p.status == PaymentStatus.PROCESSING for p in attempts):
        raise PaymentError("Your payment is clearing with your bank. Your licence is issued "
                           "as soon as it arrives; there is nothing more to pay.")
    if (request.state != RequestState.AWAITING_PAYMENT or quote is None
            or quote.status != QuoteStatus.ACCEPTED):
        if request.state == RequestState.LICENSED:
            raise PaymentError("This request is paid for and licensed: there is nothing "
                               "more to pay.")
        raise PaymentError("There is nothing to pay on this request now.")
    now = utcnow()
    for payment in attempts:
        if _is_reusable(payment, method, now):
            return payment
    for payment in attempts:
        if payment.status == PaymentStatus.OPEN:
            _close_checkout(db, payment, actor=REQUESTER, reason="a new checkout was started")
    if request.state != RequestState.AWAITING_PAYMENT:
        raise PaymentError("This request is paid for and licensed: there is nothing more "
                           "to pay.")
    provider = backend(db, method)
    if method == PaymentProvider.INVOICE:
        expires = now + timedelta(days=int(current_app.config["INVOICE_DUE_DAYS"]))
    else:
        expires = checkout_expiry(quote, now)
    payment = Payment(
        request=request, quote=quote, attempt=len(attempts) + 1, provider=method,
        status=PaymentStatus.OPEN, amount_minor=quote.amount_minor, currency=quote.currency,
        refunded_minor=0, created_at=now,
    )
    db.add(payment)
    db.flush()  # the payment's id goes to the provider in the checkout's metadata
    order = CheckoutOrder(
        payment_id=payment.id,
        request_reference=request.reference,
        quote_id=quote.id,
        quote_version=quote.version,
        amount=quote.fee,
        description=f"Licence to republish “{request.article.title}”",
        buyer_email=request.requester_email,
        expires_at=expires,
        success_url=return_url,
        cancel_url=cancel_url,
        # One key per quote version, attempt and try: stripe-python's own retries of a
        # call reuse it (a lost answer gives back the same checkout), and a new try after a
        # failure gets a new one (Stripe keeps a failure under its key for 24 hours).
        idempotency_key=(f"portal-checkout-{request.reference}-q{quote.version}"
                         f"-a{payment.attempt}-{secrets.token_hex(6)}"),
    )
    checkout = provider.start_checkout(order)
    payment.provider_ref = checkout.ref
    # An invoice is paid from the status page; its address (with the token) is not kept.
    payment.checkout_url = checkout.url if method != PaymentProvider.INVOICE else None
    payment.expires_at = checkout.expires_at
    record_event(db, request, "payment", "start_payment", actor=REQUESTER, before=None,
                 after=PaymentStatus.OPEN.value, reason=f"{method.value} {checkout.ref}")
    if method == PaymentProvider.INVOICE:
        requester_update(db, request, "invoice ready",
                    f"Your invoice {checkout.ref} for {payment.amount} is ready on your request "
                    "page, with the bank details for the transfer.",
                    [f"Please pay by {checkout.expires_at:%d %B %Y} and quote {checkout.ref} "
                     "with the transfer. Your licence is issued when the payment reaches us."],
                    button_text="Download your invoice")
    return payment


# -- Applying what a provider reports -------------------------------------------------------

def sync_under_way(db: Session, request: RepublishRequest) -> None:
    """Ask the provider about the request's checkouts under way: one may have been paid a
    moment ago, before its webhook. Callers commit this on its own, before acting."""
    for payment in payments_of(db, request):
        if payment.is_under_way and payment.provider != PaymentProvider.INVOICE:
            sync_payment(db, payment, actor=provider_actor(payment.provider.value))


def sync_payment(db: Session, payment: Payment, *, actor: str) -> Payment:
    """Fetch the checkout from its provider and apply what it says."""
    if payment.provider_ref is None:
        return payment
    provider = backend(db, payment.provider)
    if not provider.fetches_state:
        return payment
    return apply_provider_payment(db, payment, provider.fetch(payment.provider_ref),
                                  actor=actor)


def apply_provider_payment(db: Session, payment: Payment, state: ProviderPayment, *,
                           actor: str, reason: str | None = None) -> Payment:
    """Bring the payment in line with the provider's report; idempotent."""
    payment = _lock(db, payment)
    if state.payment_intent_id and not payment.payment_intent_id:
        payment.payment_intent_id = state.payment_intent_id
    if state.receipt_url and state.receipt_url.startswith("https://"):
        payment.receipt_url = state.receipt_url[:2000]
    if state.state == CheckoutState.PAID and payment.paid_at is None:
        _receive(db, payment, state.amount, actor=actor)
    elif state.state == CheckoutState.PROCESSING and payment.status == PaymentStatus.OPEN:
        _set_status(db, payment, PaymentStatus.PROCESSING, actor=actor,
                    reason="the buyer paid with a method that takes time to clear")
    elif state.state == CheckoutState.EXPIRED and payment.status == PaymentStatus.OPEN:
        _set_status(db, payment, PaymentStatus.EXPIRED, actor=actor,
                    reason=reason or "the checkout ended without payment")
    elif state.state == CheckoutState.FAILED and payment.is_under_way:
        _set_status(db, payment, PaymentStatus.FAILED, actor=actor,
                    reason="the payment method failed")
        if _is_awaited(payment):
            requester_update(db, payment.request, "payment failed",
                        f"Your payment of {payment.amount} did not go through, so nothing was "
                        "charged and no licence is issued yet.",
                        ["You can try again, with another payment method, from your request "
                         "page while the quote is valid."], button_text="Pay again")
    if state.refunded_minor > payment.refunded_minor and payment.is_received:
        _apply_refunded_total(db, payment, state.refunded_minor, actor=actor,
                              reason=reason or "refunded at the provider")
    return payment


def _is_awaited(payment: Payment) -> bool:
    """The request is waiting for exactly this payment's quote."""
    request, quote = payment.request, payment.quote
    return (request.state == RequestState.AWAITING_PAYMENT
            and request.current_quote is quote and quote.status == QuoteStatus.ACCEPTED)


def _set_status(db: Session, payment: Payment, status: PaymentStatus, *, actor: str,
                reason: str | None = None) -> None:
    if payment.status == status:
        return
    before = payment.status
    payment.status = status
    record_event(db, payment.request, "payment", f"payment_{status.value}", actor=actor,
                 before=before.value, after=status.value, reason=reason)


def release_problem(db: Session, payment: Payment, amount: Money | None) -> str | None:
    """Why this received payment must release nothing, or None when it may."""
    quote, request = payment.quote, payment.request
    if amount is None:
        return "the provider reported no amount for this payment"
    if amount != quote.fee:
        return (f"{amount} was paid, but the quote (version {quote.version}) is for "
                f"{quote.fee}")
    if request.current_quote is not quote or quote.status == QuoteStatus.SUPERSEDED:
        return (f"it pays quote version {quote.version}, which was replaced by a newer "
                "quote")
    existing = licence_of(db, request)
    if existing is not None:
        return f"the request already has licence {existing.number} (a second payment)"
    if request.state != RequestState.AWAITING_PAYMENT or quote.status != QuoteStatus.ACCEPTED:
        return (f"the request is {request.state.value.replace('_', ' ')}: it was not waiting "
                "for this payment")
    return None


def _receive(db: Session, payment: Payment, amount: Money | None, *, actor: str,
             reference: str | None = None) -> None:
    """Money arrived: record it, then license the request or, if anything is off, hold
    everything back and alert staff."""
    before = payment.status
    payment.status = PaymentStatus.PAID
    payment.paid_at = utcnow()
    if amount is not None:
        payment.paid_amount_minor, payment.paid_currency = amount.minor, amount.currency
    received = str(amount) if amount else "no amount reported"
    record_event(db, payment.request, "payment", "payment_paid", actor=actor,
                 before=before.value, after=PaymentStatus.PAID.value,
                 reason=f"{received}, bank reference {reference}" if reference else received)
    problem = release_problem(db, payment, amount)
    if problem is not None:
        payment.problem = problem
        record_event(db, payment.request, "payment", "payment_held", actor=actor,
                     before=PaymentStatus.PAID.value, after=PaymentStatus.PAID.value,
                     reason=f"Nothing released: {problem}.")
        update_staff(db, payment.request, "a payment needs your attention",
                    f"Nothing was released: {problem}. Check the payment on the request "
                    "page and refund it if it should not stand.")
        requester_update(db, payment.request, "payment received, under review",
                    f"We received your payment of {amount or payment.amount}. It does not "
                    "match what your request is waiting for, so the licensing desk is "
                    "looking at it and will write to you.",
                    ["Nothing more is needed from you for now."])
        return
    _release(db, payment, actor=actor)


def _release(db: Session, payment: Payment, *, actor: str) -> None:
    request = payment.request
    apply_transition(db, request, Action.CONFIRM_PAYMENT, actor=actor,
                     reason=f"{payment.provider.value} {payment.provider_ref}")
    licence = issue_licence(db, request, fee=payment.paid_amount or payment.amount,
                            actor=actor, payment_id=payment.id)
    for other in payments_of(db, request):
        if other.id != payment.id and other.status == PaymentStatus.OPEN:
            try:
                _close_checkout(db, other, actor=actor, reason="another payment was confirmed")
            except ProviderError as error:  # left open here; reconcile closes it later
                log.warning("checkout %s left for reconcile: %s", other.provider_ref,
                            error.message)
    requester_update(db, request, f"payment confirmed, licence {licence.number} issued",
                f"Thank you: your payment of {payment.paid_amount or payment.amount} is "
                f"confirmed and licence {licence.number} is issued.",
                [_term_line(licence)], button_text="Open your licence")
    update_staff(db, request, f"paid; licence {licence.number} issued",
                "Nothing to do: the licence was issued automatically.")


def _term_line(licence: Licence) -> str:
    if licence.ends_on is None:
        return f"It runs from {licence.starts_on:%d %B %Y}, with no end date."
    return f"It runs from {licence.starts_on:%d %B %Y} to {licence.ends_on:%d %B %Y}."


def _apply_refunded_total(db: Session, payment: Payment, total_minor: int, *, actor: str,
                          reason: str) -> None:
    if total_minor <= payment.refunded_minor:
        return
    refunded_now = Money(total_minor - payment.refunded_minor,
                         payment.paid_currency or payment.currency)
    payment.refunded_minor = total_minor
    full = total_minor >= (payment.paid_amount_minor or payment.amount_minor)
    if payment.status != PaymentStatus.CHARGED_BACK:
        _set_status(db, payment, PaymentStatus.REFUNDED if full
                    else PaymentStatus.PARTIALLY_REFUNDED, actor=actor,
                    reason=f"{refunded_now} refunded: {reason}")
    licence = _licence_paid_by(db, payment)
    details = []
    if full and licence is not None and licence.status != LicenceStatus.REVOKED:
        details.append(f"As the payment is refunded in full, licence {licence.number} is "
                       "revoked: please take down any copy published under it.")
    if reason:
        details.insert(0, f"Reason: {reason}")
    requester_update(db, payment.request, f"{refunded_now} refunded",
                f"We refunded {refunded_now} of your payment for {payment.request.reference}. "
                "It reaches your account in a few working days.", details)
    if full and licence is not None:
        set_status(db, licence, LicenceStatus.REVOKED, actor=actor,
                   reason="the payment was refunded in full")


def _licence_paid_by(db: Session, payment: Payment) -> Licence | None:
    return db.scalar(select(Licence).where(Licence.payment_id == payment.id))


def apply_dispute(db: Session, payment: Payment, dispute: ProviderDispute, *,
                  actor: str) -> None:
    """A dispute suspends the licence; won restores it; lost revokes it."""
    payment = _lock(db, payment)
    if (dispute.payment_intent_id and payment.payment_intent_id
            and dispute.payment_intent_id != payment.payment_intent_id):
        log.warning("dispute %s is not about payment %s", dispute.id, payment.id)
        return
    payment.dispute_id = dispute.id
    licence = _licence_paid_by(db, payment)
    settled = (PaymentStatus.PARTIALLY_REFUNDED if payment.refunded_minor
               else PaymentStatus.PAID)
    if dispute.outcome == DisputeOutcome.OPEN:
        if payment.status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            _set_status(db, payment, PaymentStatus.DISPUTED, actor=actor,
                        reason=f"dispute {dispute.id}: {dispute.reason or 'no reason given'}")
            update_staff(db, payment.request, "the payment is disputed",
                        "The licence is suspended until the dispute closes. Answer the "
                        "dispute in Stripe's dashboard.")
            if licence is not None:
                set_status(db, licence, LicenceStatus.SUSPENDED, actor=actor,
                           reason="the payment for it is disputed")
    elif dispute.outcome == DisputeOutcome.WON:
        if payment.status == PaymentStatus.DISPUTED:
            _set_status(db, payment, settled, actor=actor,
                        reason=f"dispute {dispute.id} won")
            update_staff(db, payment.request, "the payment dispute was won",
                        "The licence is active again. Nothing to do.")
            if licence is not None:
                set_status(db, licence, LicenceStatus.ACTIVE, actor=actor,
                           reason="the dispute over the payment was closed in our favour")
    elif payment.status != PaymentStatus.CHARGED_BACK and payment.is_received:
        _set_status(db, payment, PaymentStatus.CHARGED_BACK, actor=actor,
                    reason=f"dispute {dispute.id} lost")
        update_staff(db, payment.request, "the payment dispute was lost",
                    "The money went back to the buyer and the licence is revoked.")
        if licence is not None:
            set_status(db, licence, LicenceStatus.REVOKED, actor=actor,
                       reason="the payment was reversed after a dispute")


# -- Staff actions --------------------------------------------------------------------------

def refund(db: Session, payment: Payment, amount_minor: int, *, actor: str,
           reason: str, key: str) -> None:
    """Refund part or all of a received payment through its provider. `key` comes with the
    staff's form: the same form sent twice makes one refund."""
    payment = _lock(db, payment)
    if amount_minor <= 0:
        raise PaymentError("A refund must be more than zero.")
    if amount_minor > payment.refundable_minor:
        raise PaymentError(f"At most {Money(payment.refundable_minor, payment.paid_currency or payment.currency)} "
                           "of this payment can be refunded.")
    provider = backend(db, payment.provider)
    provider.refund(payment.payment_intent_id, payment.provider_ref or "", amount_minor,
                    f"portal-refund-{payment.id}-{key}")
    if provider.fetches_state and payment.provider_ref:
        try:
            state = provider.fetch(payment.provider_ref)
        except ProviderError:
            # The refund is made: record it as made, and let the webhook (or the next
            # fetch) bring the exact total.
            state = None
        if state is not None:
            apply_provider_payment(db, payment, state, actor=actor, reason=reason)
            return
    _apply_refunded_total(db, payment, payment.refunded_minor + amount_minor, actor=actor,
                          reason=reason)


def record_invoice_payment(db: Session, payment: Payment, amount: Money, *, reference: str,
                           actor: str) -> None:
    """Staff saw the bank transfer for an invoice arrive."""
    payment = _lock(db, payment)
    if payment.provider != PaymentProvider.INVOICE:
        raise PaymentError("Only invoices are marked paid by hand; card payments are "
                           "confirmed by the provider.")
    if payment.paid_at is not None:
        raise PaymentError("This invoice is already marked paid.")
    if payment.status != PaymentStatus.OPEN:
        raise PaymentError("This invoice was cancelled; it cannot be marked paid.")
    payment.received_reference = reference
    _receive(db, payment, amount, actor=actor, reference=reference)


def set_payment_method(db: Session, request: RepublishRequest, method: PaymentProvider | None,
                       *, actor: str) -> None:
    """Staff let an institution pay by invoice (or go back to the portal's provider)."""
    if request.state not in (RequestState.SUBMITTED, RequestState.INFO_REQUESTED,
                             RequestState.QUOTED, RequestState.AWAITING_PAYMENT,
                             RequestState.EXPIRED):
        raise PaymentError("The payment method can only change before the request is "
                           "paid or closed.")
    before = method_for(request)
    request.payment_method = method.value if method else None
    request.updated_at = utcnow()  # a change of the request: its version turns away stale pages
    after = method_for(request)
    if before != after:
        record_event(db, request, "payment", "set_payment_method", actor=actor,
                     before=before.value, after=after.value)
        cancel_open_payments(db, request, actor=actor,
                             reason=f"the payment method changed to {after.value}")


# -- Closing checkouts ----------------------------------------------------------------------

def _close_checkout(db: Session, payment: Payment, *, actor: str, reason: str) -> None:
    """Expire an open checkout at its provider, then mark it expired. If the provider cannot
    be reached it stays open here, and `payments reconcile` closes it later."""
    if payment.provider_ref is None:
        return
    try:
        provider = backend(db, payment.provider)
        provider.expire(payment.provider_ref)
    except ProviderError as error:
        log.warning("could not expire checkout %s: %s", payment.provider_ref, error.message)
        return
    if payment.provider == PaymentProvider.INVOICE:
        _set_status(db, payment, PaymentStatus.EXPIRED, actor=actor, reason=reason)
        return
    # What the checkout became (it may have been paid a moment ago) decides.
    apply_provider_payment(db, payment, provider.fetch(payment.provider_ref), actor=actor,
                           reason=reason)


def cancel_open_payments(db: Session, request: RepublishRequest, *, actor: str,
                         reason: str) -> None:
    """Re-quoting, withdrawing or declining closes the request's open checkouts."""
    for payment in payments_of(db, request):
        if payment.status == PaymentStatus.OPEN:
            try:
                _close_checkout(db, payment, actor=actor, reason=reason)
            except ProviderError as error:
                log.warning("checkout %s left for reconcile: %s", payment.provider_ref,
                            error.message)


# -- Reconciliation -------------------------------------------------------------------------

@dataclass
class ReconcileResult:
    payment: Payment
    before: PaymentStatus
    after: PaymentStatus
    error: str | None = None


def payments_to_reconcile(db: Session) -> list[int]:
    return list(db.scalars(
        select(Payment.id)
        .where(Payment.provider != PaymentProvider.INVOICE,
               Payment.provider_ref.is_not(None),
               Payment.status.in_([PaymentStatus.OPEN, PaymentStatus.PROCESSING,
                                   PaymentStatus.DISPUTED]))
        .order_by(Payment.id)))


def reconcile_one(db: Session, payment: Payment) -> ReconcileResult:
    """Fetch one payment (and its dispute) from its provider and apply it; close a checkout
    that its request no longer waits for."""
    actor = "system"
    before = payment.status
    provider = backend(db, payment.provider)
    payment = apply_provider_payment(db, payment, provider.fetch(payment.provider_ref or ""),
                                     actor=actor)
    if payment.status == PaymentStatus.OPEN and not _is_awaited(payment):
        _close_checkout(db, payment, actor=actor,
                        reason="its request no longer waits for this payment")
    if (payment.status == PaymentStatus.DISPUTED and payment.dispute_id
            and isinstance(provider, StripeProvider)):
        dispute, _metadata = provider.fetch_dispute(payment.dispute_id)
        apply_dispute(db, payment, dispute, actor=actor)
    return ReconcileResult(payment, before, payment.status)
