"""Payments: plan a checkout, record it, apply what the provider reports, refunds, disputes.

The portal acts only on what a provider itself reports (a verified webhook, or the
checkout fetched back from the provider), never on the buyer's browser. Whatever order
reports arrive in, and however often, applying them gives the same outcome: a payment only
moves as its lifecycle allows, and money received is recorded once.

This module knows payments only. What a payment means for its request and licence (release,
hold, revoke) is decided by portal.workflows, which calls in here. Nothing here calls a
provider: the workflow calls it between two transactions, and hands over what it answered.
Everything runs in the caller's transaction; the caller commits.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import record_event
from portal.db import utcnow
from portal.licensing.lifecycle import QuoteStatus, RequestState
from portal.licensing.models import Quote, RepublishRequest
from portal.money import Money
from portal.notifications.people import requester_update, update_staff
from portal.payments.lifecycle import PaymentAction, set_payment_status
from portal.payments.models import Payment, PaymentProvider, PaymentStatus
from portal.payments.provider import (
    Checkout,
    CheckoutOrder,
    CheckoutState,
    DisputeOutcome,
    ProviderDispute,
    ProviderPayment,
)
from portal.uow import DomainError

REQUESTER = "requester"
#: Stripe takes a Checkout Session that ends between 30 minutes and 24 hours from now.
CHECKOUT_MIN = timedelta(minutes=31)
CHECKOUT_MAX = timedelta(hours=23, minutes=55)
#: an open checkout is sent to again only when it has at least this long left
CHECKOUT_REUSE_MARGIN = timedelta(minutes=10)


class PaymentError(DomainError):
    """A payment action that cannot be done as asked (HTTP 422)."""


def provider_actor(name: str) -> str:
    return f"provider:{name}"


def method_for(request: RepublishRequest, default: str) -> PaymentProvider:
    """How this request is paid: its own choice (an institution paying by invoice), or the
    portal's provider (`default`)."""
    return PaymentProvider(request.payment_method or default)


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


def payment_by_return_key(db: Session, key: str) -> Payment | None:
    if not 16 <= len(key) <= 64:
        return None
    return db.scalar(select(Payment).where(Payment.return_key == key))


def lock_payment(db: Session, payment_id: int) -> Payment:
    """The payment, re-read under a row lock (PostgreSQL), so concurrent reports of it take
    turns; its version column catches what slips through on SQLite. The request's row is
    locked first, as every other change of a request does, so that the two locks are always
    taken in the same order (no deadlock with a staff action)."""
    request_id = db.scalar(select(Payment.request_id).where(Payment.id == payment_id))
    db.scalars(select(RepublishRequest).where(RepublishRequest.id == request_id)
               .with_for_update().execution_options(populate_existing=True)).one()
    return db.scalars(select(Payment).where(Payment.id == payment_id)
                      .with_for_update().execution_options(populate_existing=True)).one()


def is_awaited(payment: Payment) -> bool:
    """The request is waiting for exactly this payment's quote."""
    request, quote = payment.request, payment.quote
    return (request.state == RequestState.AWAITING_PAYMENT
            and request.current_quote is quote and quote.status == QuoteStatus.ACCEPTED)


# -- Starting a payment: plan (read), the provider makes it, record -------------------------

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


@dataclass(frozen=True)
class CheckoutPlan:
    """A checkout to ask the provider for: decided under the request's lock, made by the
    provider after that transaction ended, recorded in the next one."""

    request_id: int
    quote_id: int
    quote_version: int
    attempt: int
    method: PaymentProvider
    return_key: str
    order: CheckoutOrder


def check_payable(request: RepublishRequest, quote: Quote | None, *,
                  accepting: bool) -> None:
    """Raise PaymentError unless the request waits for payment of `quote` (or, when
    `accepting`, its open quote may be accepted and paid)."""
    if request.state == RequestState.LICENSED:
        raise PaymentError("This request is paid for and licensed: there is nothing more "
                           "to pay.")
    if accepting:
        return  # the licensing rules decide whether the quote may be accepted
    if (request.state != RequestState.AWAITING_PAYMENT or quote is None
            or quote.status != QuoteStatus.ACCEPTED):
        raise PaymentError("There is nothing to pay on this request now.")


def plan_checkout(db: Session, request: RepublishRequest, *, method: PaymentProvider,
                  portal: str, return_urls: "ReturnUrls", accepting: bool = False
                  ) -> Payment | CheckoutPlan:
    """The open checkout to send the buyer to again, or the plan of a new one.
    `request` was read under its row lock, after the last commit."""
    quote = request.current_quote
    check_payable(request, quote, accepting=accepting)
    assert quote is not None
    attempts = [p for p in payments_of(db, request) if p.quote_id == quote.id]
    if any(p.status == PaymentStatus.PROCESSING for p in attempts):
        raise PaymentError("Your payment is clearing with your bank. Your licence is issued "
                           "as soon as it arrives; there is nothing more to pay.")
    now = utcnow()
    if not accepting:
        for payment in attempts:
            if _is_reusable(payment, method, now):
                return payment
    expires = (now + timedelta(days=30) if method == PaymentProvider.INVOICE
               else checkout_expiry(quote, now))
    attempt = max((p.attempt for p in attempts), default=0) + 1
    payment_id = _reserve_payment_id(db)
    order = CheckoutOrder(
        payment_id=payment_id,
        portal=portal,
        request_reference=request.reference,
        quote_id=quote.id,
        quote_version=quote.version,
        amount=quote.fee,
        description=f"Licence to republish “{request.article.title}”",
        buyer_email=request.requester_email,
        expires_at=expires,
        success_url=return_urls.success,
        cancel_url=return_urls.cancel,
        # One key per quote version, attempt and try: stripe-python's own retries of a
        # call reuse it (a lost answer gives back the same checkout), and a new try after a
        # failure gets a new one (Stripe keeps a failure under its key for 24 hours).
        idempotency_key=(f"portal-checkout-{request.reference}-q{quote.version}"
                         f"-a{attempt}-{secrets.token_hex(6)}"),
    )
    return CheckoutPlan(request_id=request.id, quote_id=quote.id, quote_version=quote.version,
                        attempt=attempt, method=method, return_key=return_urls.key,
                        order=order)


@dataclass(frozen=True)
class ReturnUrls:
    """Where the provider sends the buyer back: addresses with a random key of their own."""

    key: str
    success: str
    cancel: str


def new_return_key() -> str:
    return secrets.token_urlsafe(24)


def _reserve_payment_id(db: Session) -> int:
    """The new payment's id, handed out before the provider is asked (it goes into the
    checkout's metadata, so that refunds and disputes lead back to it)."""
    from portal.sequences import next_value

    return next_value(db, "payment-id")


def stale_plan(request: RepublishRequest, plan: CheckoutPlan, *, accepting: bool
               ) -> str | None:
    """Why the checkout the provider just made must not be used (the request moved on while
    the provider was asked), or None. `request` was re-read under its row lock."""
    quote = request.current_quote
    if quote is None or quote.id != plan.quote_id:
        return "the quote changed while the checkout was being opened"
    if request.state == RequestState.LICENSED:
        return "the request was paid for and licensed meanwhile"
    if accepting:
        if request.state != RequestState.QUOTED or quote.status != QuoteStatus.OPEN:
            return "the quote was answered or closed while the checkout was being opened"
    elif request.state != RequestState.AWAITING_PAYMENT or quote.status != QuoteStatus.ACCEPTED:
        return "the request stopped waiting for payment while the checkout was being opened"
    return None


def open_attempt(db: Session, request: RepublishRequest, plan: CheckoutPlan) -> Payment | None:
    """An open checkout for the plan's quote that another click recorded meanwhile."""
    now = utcnow()
    for payment in payments_of(db, request):
        if payment.quote_id == plan.quote_id and _is_reusable(payment, plan.method, now):
            return payment
    return None


def record_checkout(db: Session, request: RepublishRequest, plan: CheckoutPlan,
                    checkout: Checkout, *, actor: str) -> Payment:
    """The provider made the checkout: record it as the request's open payment."""
    quote = request.current_quote
    assert quote is not None
    payment = Payment(
        id=plan.order.payment_id, request=request, quote=quote, attempt=plan.attempt,
        provider=plan.method, amount_minor=quote.amount_minor, currency=quote.currency,
        refunded_minor=0, provider_ref=checkout.ref, return_key=plan.return_key,
        # An invoice is paid from the status page; it has no payment page of its own.
        checkout_url=checkout.url if plan.method != PaymentProvider.INVOICE else None,
        expires_at=checkout.expires_at, created_at=utcnow(),
    )
    db.add(payment)
    set_payment_status(db, payment, PaymentAction.START, actor=actor,
                       reason=f"{plan.method.value} {checkout.ref}")
    if plan.method == PaymentProvider.INVOICE:
        requester_update(db, request, "invoice ready",
                         f"Your invoice {checkout.ref} for {payment.amount} is ready on your "
                         "request page, with the bank details for the transfer.",
                         [f"Please pay by {checkout.expires_at:%d %B %Y} and quote "
                          f"{checkout.ref} with the transfer. Your licence is issued when the "
                          "payment reaches us."],
                         button_text="Download your invoice")
    return payment


# -- Applying what a provider reports -------------------------------------------------------

@dataclass
class Applied:
    """What applying a provider's report changed, for the workflow to act on."""

    payment: Payment
    #: money arrived with this report (the workflow releases the licence, or holds it)
    received: bool = False
    #: refunded with this report, and whether the payment is now refunded in full
    refunded_now: Money | None = None
    refunded_in_full: bool = False


def apply_provider_payment(db: Session, payment_id: int, state: ProviderPayment, *,
                           actor: str, reason: str | None = None) -> Applied:
    """Bring the payment in line with the provider's report; idempotent."""
    payment = lock_payment(db, payment_id)
    applied = Applied(payment)
    if state.payment_intent_id and not payment.payment_intent_id:
        payment.payment_intent_id = state.payment_intent_id
    if state.receipt_url and state.receipt_url.startswith("https://"):
        payment.receipt_url = state.receipt_url[:2000]
    if state.state == CheckoutState.PAID and payment.paid_at is None:
        receive(db, payment, state.amount, actor=actor)
        applied.received = True
    elif state.state == CheckoutState.PROCESSING and payment.status == PaymentStatus.OPEN:
        set_payment_status(db, payment, PaymentAction.CLEAR, actor=actor,
                           reason="the buyer paid with a method that takes time to clear")
    elif state.state == CheckoutState.EXPIRED and payment.status == PaymentStatus.OPEN:
        set_payment_status(db, payment, PaymentAction.EXPIRE, actor=actor,
                           reason=reason or "the checkout ended without payment")
    elif state.state == CheckoutState.FAILED and payment.is_under_way:
        set_payment_status(db, payment, PaymentAction.FAIL, actor=actor,
                           reason="the payment method failed")
        if is_awaited(payment):
            requester_update(db, payment.request, "payment failed",
                             f"Your payment of {payment.amount} did not go through, so "
                             "nothing was charged and no licence is issued yet.",
                             ["You can try again, with another payment method, from your "
                              "request page while the quote is valid."],
                             button_text="Pay again")
    if state.refunded_minor > payment.refunded_minor and payment.is_received:
        applied.refunded_now, applied.refunded_in_full = record_refunded_total(
            db, payment, state.refunded_minor, actor=actor,
            reason=reason or "refunded at the provider")
    return applied


def receive(db: Session, payment: Payment, amount: Money | None, *, actor: str,
            reference: str | None = None) -> None:
    """Money arrived: record it (what it releases is the workflow's decision)."""
    payment.paid_at = utcnow()
    if amount is not None:
        payment.paid_amount_minor, payment.paid_currency = amount.minor, amount.currency
    received = str(amount) if amount else "no amount reported"
    set_payment_status(db, payment, PaymentAction.RECEIVE, actor=actor,
                       reason=f"{received}, bank reference {reference}" if reference
                       else received)


def release_problem(payment: Payment, *, existing_licence: str | None) -> str | None:
    """Why this received payment must release nothing, or None when it may."""
    quote, request = payment.quote, payment.request
    amount = payment.paid_amount
    if amount is None:
        return "the provider reported no amount for this payment"
    if amount != quote.fee:
        return (f"{amount} was paid, but the quote (version {quote.version}) is for "
                f"{quote.fee}")
    if request.current_quote is not quote or quote.status == QuoteStatus.SUPERSEDED:
        return (f"it pays quote version {quote.version}, which was replaced by a newer "
                "quote")
    if existing_licence is not None:
        return f"the request already has licence {existing_licence} (a second payment)"
    if request.state != RequestState.AWAITING_PAYMENT or quote.status != QuoteStatus.ACCEPTED:
        return (f"the request is {request.state.value.replace('_', ' ')}: it was not waiting "
                "for this payment")
    return None


def hold(db: Session, payment: Payment, problem: str, *, actor: str) -> None:
    """Money arrived that must release nothing: keep it for staff and tell both sides."""
    payment.problem = problem
    record_event(db, payment.request, "payment", "payment_held", actor=actor,
                 before=payment.status.value, after=payment.status.value,
                 reason=f"Nothing released: {problem}.")
    update_staff(db, payment.request, "a payment needs your attention",
                 f"Nothing was released: {problem}. Check the payment on the request "
                 "page and refund it if it should not stand.")
    requester_update(db, payment.request, "payment received, under review",
                     f"We received your payment of {payment.paid_amount or payment.amount}. "
                     "It does not match what your request is waiting for, so the licensing "
                     "desk is looking at it and will write to you.",
                     ["Nothing more is needed from you for now."])


def record_refunded_total(db: Session, payment: Payment, total_minor: int, *, actor: str,
                          reason: str) -> tuple[Money | None, bool]:
    """The provider has refunded `total_minor` of the payment so far: record it. Returns
    what was refunded now, and whether the payment is refunded in full."""
    if total_minor <= payment.refunded_minor:
        return None, False
    refunded_now = Money(total_minor - payment.refunded_minor,
                         payment.paid_currency or payment.currency)
    payment.refunded_minor = total_minor
    full = total_minor >= (payment.paid_amount_minor or payment.amount_minor)
    if payment.status != PaymentStatus.CHARGED_BACK:
        set_payment_status(db, payment, PaymentAction.REFUND_ALL if full
                           else PaymentAction.REFUND_PART, actor=actor,
                           reason=f"{refunded_now} refunded: {reason}")
    return refunded_now, full


def check_refund(payment: Payment, amount_minor: int) -> None:
    if amount_minor <= 0:
        raise PaymentError("A refund must be more than zero.")
    if amount_minor > payment.refundable_minor:
        raise PaymentError(f"At most {payment.refundable} of this payment can be refunded.")


def apply_dispute(db: Session, payment: Payment, dispute: ProviderDispute, *,
                  actor: str) -> DisputeOutcome | None:
    """Move the payment as the dispute says; returns the outcome when it changed anything
    (the workflow suspends, restores or revokes the licence), else None."""
    payment = lock_payment(db, payment.id)
    if (dispute.payment_intent_id and payment.payment_intent_id
            and dispute.payment_intent_id != payment.payment_intent_id):
        return None  # not about this payment
    payment.dispute_id = dispute.id
    if dispute.outcome == DisputeOutcome.OPEN:
        if payment.status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            set_payment_status(db, payment, PaymentAction.DISPUTE, actor=actor,
                               reason=f"dispute {dispute.id}: "
                                      f"{dispute.reason or 'no reason given'}")
            update_staff(db, payment.request, "the payment is disputed",
                         "The licence is suspended until the dispute closes. Answer the "
                         "dispute in Stripe's dashboard.")
            return DisputeOutcome.OPEN
    elif dispute.outcome == DisputeOutcome.WON:
        if payment.status == PaymentStatus.DISPUTED:
            set_payment_status(db, payment, PaymentAction.WIN_AFTER_REFUND
                               if payment.refunded_minor else PaymentAction.WIN,
                               actor=actor, reason=f"dispute {dispute.id} won")
            update_staff(db, payment.request, "the payment dispute was won",
                         "The licence is active again. Nothing to do.")
            return DisputeOutcome.WON
    elif payment.status != PaymentStatus.CHARGED_BACK and payment.is_received:
        set_payment_status(db, payment, PaymentAction.LOSE, actor=actor,
                           reason=f"dispute {dispute.id} lost")
        update_staff(db, payment.request, "the payment dispute was lost",
                     "The money went back to the buyer and the licence is revoked.")
        return DisputeOutcome.LOST
    return None


# -- Staff actions --------------------------------------------------------------------------

def check_invoice_payable(payment: Payment) -> None:
    if payment.provider != PaymentProvider.INVOICE:
        raise PaymentError("Only invoices are marked paid by hand; card payments are "
                           "confirmed by the provider.")
    if payment.paid_at is not None:
        raise PaymentError("This invoice is already marked paid.")
    if payment.status != PaymentStatus.OPEN:
        raise PaymentError("This invoice was cancelled; it cannot be marked paid.")


def set_payment_method(db: Session, request: RepublishRequest, method: PaymentProvider | None,
                       *, default: str, actor: str) -> bool:
    """Staff let an institution pay by invoice (or go back to the portal's provider).
    True when the method changed (the workflow then closes the open checkouts)."""
    if request.state not in (RequestState.SUBMITTED, RequestState.INFO_REQUESTED,
                             RequestState.QUOTED, RequestState.AWAITING_PAYMENT,
                             RequestState.EXPIRED):
        raise PaymentError("The payment method can only change before the request is "
                           "paid or closed.")
    before = method_for(request, default)
    request.payment_method = method.value if method else None
    request.updated_at = utcnow()  # a change of the request: its version turns away stale pages
    after = method_for(request, default)
    if before == after:
        return False
    record_event(db, request, "payment", "set_payment_method", actor=actor,
                 before=before.value, after=after.value)
    return True


def close_invoice(db: Session, payment: Payment, *, actor: str, reason: str) -> None:
    """An invoice is cancelled by its row alone (there is nothing at a provider)."""
    if payment.status == PaymentStatus.OPEN:
        set_payment_status(db, payment, PaymentAction.EXPIRE, actor=actor, reason=reason)


def open_payments(db: Session, request: RepublishRequest) -> list[Payment]:
    return [p for p in payments_of(db, request) if p.status == PaymentStatus.OPEN]


# -- Reconciliation -------------------------------------------------------------------------

def payments_to_reconcile(db: Session) -> list[int]:
    return list(db.scalars(
        select(Payment.id)
        .where(Payment.provider != PaymentProvider.INVOICE,
               Payment.provider_ref.is_not(None),
               Payment.status.in_([PaymentStatus.OPEN, PaymentStatus.PROCESSING,
                                   PaymentStatus.DISPUTED]))
        .order_by(Payment.id)))


def known_refs(db: Session, provider: str, refs: list[str]) -> set[str]:
    """Which of these provider refs the portal has recorded."""
    if not refs:
        return set()
    return set(db.scalars(select(Payment.provider_ref).where(
        Payment.provider == provider, Payment.provider_ref.in_(refs))))
