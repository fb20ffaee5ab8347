"""Stripe Checkout, through stripe-python's StripeClient: the only module that imports stripe.

Parameters are built as stripe's own typed dictionaries (stripe.params), so that mypy checks
every call against Stripe's API offline. PORTAL_STRIPE_API_BASE points the client at another
server (the test suite's fake Stripe); otherwise it talks to api.stripe.com.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe
from stripe.params import RefundCreateParams
from stripe.params.checkout import SessionCreateParams, SessionListParams, SessionRetrieveParams

from portal.money import Money
from portal.payments.provider import (
    Checkout,
    CheckoutOrder,
    CheckoutState,
    DisputeOutcome,
    EventKind,
    OpenCheckout,
    ProviderDispute,
    ProviderError,
    ProviderNotFound,
    ProviderPayment,
    ProviderUnavailable,
    WebhookEvent,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: the events the webhook acts on (subscribe to these in Stripe's dashboard)
HANDLED_EVENTS = frozenset({
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
})
#: dispute statuses that end it in the merchant's favour (or never took the money)
_DISPUTE_WON = frozenset({"won", "warning_closed", "prevented"})
_FAILED_INTENT = frozenset({"requires_payment_method", "canceled"})


class StripeProvider:
    name = "stripe"
    fetches_state = True

    def __init__(self, secret_key: str, *, webhook_secret: str | None = None,
                 api_base: str | None = None, max_network_retries: int = 1,
                 timeout: float = 5.0,
                 checkout_origins: tuple[str, ...] = ("https://checkout.stripe.com",)) -> None:
        if not secret_key:
            raise ProviderError("Online payment is not set up (PORTAL_STRIPE_SECRET_KEY is "
                                "missing).")
        self.webhook_secret = webhook_secret
        self.checkout_origins = checkout_origins
        # stripe-python's default waits 80 s a try; a slow Stripe must not hold a buyer (or
        # a worker) that long. The timeout bounds connecting and each read.
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    # -- Checkout ---------------------------------------------------------------------------

    def start_checkout(self, order: CheckoutOrder) -> Checkout:
        metadata = {
            "portal": order.portal[:500],
            "request": order.request_reference,
            "quote_id": str(order.quote_id),
            "quote_version": str(order.quote_version),
            "payment_id": str(order.payment_id),
        }
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [{
                "quantity": 1,
                "price_data": {
                    "currency": order.amount.currency.lower(),
                    "unit_amount": order.amount.minor,
                    "product_data": {"name": order.description[:250]},
                },
            }],
            "client_reference_id": order.request_reference,
            "customer_email": order.buyer_email,
            "metadata": metadata,
            # Refunds and disputes point at the PaymentIntent: its metadata leads back here.
            "payment_intent_data": {
                "metadata": metadata,
                "description": f"{order.request_reference}: {order.description}"[:1000],
            },
            "expires_at": int(order.expires_at.timestamp()),
            "tax_id_collection": {"enabled": True},
            "invoice_creation": {
                "enabled": True,
                "invoice_data": {"metadata": metadata,
                                 "description": order.description[:1500]},
            },
            "success_url": order.success_url,
            "cancel_url": order.cancel_url,
        }
        session = self._call(lambda: self.client.v1.checkout.sessions.create(
            params, {"idempotency_key": order.idempotency_key}))
        if not session.url:
            raise ProviderError("Stripe created a checkout without a payment page.")
        return Checkout(ref=session.id, url=session.url,
                        expires_at=datetime.fromtimestamp(session.expires_at, UTC))

    def fetch(self, ref: str) -> ProviderPayment:
        params: SessionRetrieveParams = {"expand": ["payment_intent",
                                                    "payment_intent.latest_charge"]}
        session = self._call(lambda: self.client.v1.checkout.sessions.retrieve(ref, params))
        intent = session.payment_intent
        intent_obj = intent if isinstance(intent, stripe.PaymentIntent) else None
        intent_id = intent.id if isinstance(intent, stripe.PaymentIntent) else intent
        charge = intent_obj.latest_charge if intent_obj is not None else None
        refunded = charge.amount_refunded if isinstance(charge, stripe.Charge) else 0
        receipt = charge.receipt_url if isinstance(charge, stripe.Charge) else None
        amount = None
        if session.amount_total is not None and session.currency:
            amount = Money(session.amount_total, session.currency.upper())
        return ProviderPayment(
            ref=session.id,
            state=_session_state(session, intent_obj),
            amount=amount,
            payment_intent_id=intent_id,
            refunded_minor=refunded,
            receipt_url=receipt,
            metadata=_metadata(session.metadata),
        )

    def expire(self, ref: str) -> None:
        try:
            self._call(lambda: self.client.v1.checkout.sessions.expire(ref))
        except ProviderUnavailable:
            raise
        except ProviderError:
            # Already complete or expired: what it became is fetched and applied instead.
            log.info("checkout %s could not be expired (no longer open)", ref)

    def refund(self, payment_intent_id: str | None, ref: str, amount_minor: int,
               idempotency_key: str) -> None:
        if not payment_intent_id:
            raise ProviderError("This payment has no Stripe PaymentIntent to refund.")
        params: RefundCreateParams = {
            "payment_intent": payment_intent_id,
            "amount": amount_minor,
            "metadata": {"checkout_session": ref},
        }
        self._call(lambda: self.client.v1.refunds.create(
            params, {"idempotency_key": idempotency_key}))

    def list_open_checkouts(self, created_after: datetime) -> list[OpenCheckout]:
        """Checkout Sessions still open, created after `created_after` (a day at most: no
        session lives longer)."""
        params: SessionListParams = {"status": "open", "limit": 100,
                                     "created": {"gte": int(created_after.timestamp())}}
        page = self._call(lambda: self.client.v1.checkout.sessions.list(params))
        found = []
        for session in self._call(lambda: list(page.auto_paging_iter())):
            found.append(OpenCheckout(ref=session.id,
                                      created_at=datetime.fromtimestamp(session.created, UTC),
                                      metadata=_metadata(session.metadata)))
        return found

    # -- Webhooks ---------------------------------------------------------------------------

    def event_kind(self, event: WebhookEvent) -> EventKind:
        if event.type not in HANDLED_EVENTS:
            return EventKind.IGNORED
        if event.type.startswith("checkout.session."):
            return EventKind.CHECKOUT
        if event.type == "charge.refunded":
            return EventKind.REFUND
        return EventKind.DISPUTE

    def parse_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        """Verify the signature on the raw body (and its age); ValueError if it fails or
        the body is not an event."""
        if not self.webhook_secret:
            raise ValueError("webhooks are not set up: PORTAL_STRIPE_WEBHOOK_SECRET is missing")
        try:
            event = self.client.construct_event(payload, signature, self.webhook_secret)
        except stripe.SignatureVerificationError as error:
            raise ValueError(f"bad signature: {error.user_message or error}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a Stripe event: {error}") from None
        event_id, event_type = getattr(event, "id", None), getattr(event, "type", None)
        if not (isinstance(event_id, str) and 0 < len(event_id) <= 255
                and isinstance(event_type, str) and 0 < len(event_type) <= 100):
            raise ValueError("not a Stripe event: no id or type")
        obj: Any = getattr(getattr(event, "data", None), "object", None)
        object_id = getattr(obj, "id", None)
        if not isinstance(object_id, str) or len(object_id) > 255:
            if event_type in HANDLED_EVENTS:
                raise ValueError("the event names no object")
            object_id = ""  # an event the portal does not act on: acknowledged, ignored
        return WebhookEvent(id=event_id, type=event_type, object_id=object_id,
                            object_type=str(getattr(obj, "object", "")))

    def payment_intent_of_charge(self, charge_id: str) -> tuple[str | None, dict[str, str]]:
        """A charge's PaymentIntent id and the metadata the portal put on it."""
        charge = self._call(lambda: self.client.v1.charges.retrieve(
            charge_id, {"expand": ["payment_intent"]}))
        return _intent_and_metadata(charge.payment_intent)

    def fetch_dispute(self, dispute_id: str) -> tuple[ProviderDispute, dict[str, str]]:
        dispute = self._call(lambda: self.client.v1.disputes.retrieve(
            dispute_id, {"expand": ["payment_intent"]}))
        intent_id, metadata = _intent_and_metadata(dispute.payment_intent)
        if dispute.status in _DISPUTE_WON:
            outcome = DisputeOutcome.WON
        elif dispute.status == "lost":
            outcome = DisputeOutcome.LOST
        else:
            outcome = DisputeOutcome.OPEN
        return (ProviderDispute(id=dispute.id, outcome=outcome, payment_intent_id=intent_id,
                                reason=dispute.reason), metadata)

    # -- Errors -----------------------------------------------------------------------------

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            log.warning("Stripe unreachable: %s", error)
            raise ProviderUnavailable("The payment provider could not be reached.") from error
        except stripe.APIError as error:
            log.warning("Stripe failed: %s", error)
            raise ProviderUnavailable("The payment provider had a problem.") from error
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                raise ProviderNotFound("The payment provider has no such object.") from error
            log.error("Stripe refused a request: %s", error)
            raise ProviderError(error.user_message or "The payment provider refused the "
                                "request.") from error
        except stripe.StripeError as error:
            log.error("Stripe refused a request: %s", error)
            raise ProviderError(error.user_message or "The payment provider refused the "
                                "request.") from error


def _intent_and_metadata(intent: "str | stripe.PaymentIntent | None"
                         ) -> tuple[str | None, dict[str, str]]:
    if isinstance(intent, stripe.PaymentIntent):
        return intent.id, _metadata(intent.metadata)
    return intent, {}


def _metadata(metadata: "stripe.StripeObject | dict[str, str] | None") -> dict[str, str]:
    """Stripe's metadata as a plain dict (a StripeObject is not a mapping)."""
    if metadata is None:
        return {}
    plain = metadata if isinstance(metadata, dict) else metadata.to_dict()
    return {str(key): str(value) for key, value in plain.items()}


def _session_state(session: stripe.checkout.Session,
                   intent: stripe.PaymentIntent | None) -> CheckoutState:
    if session.payment_status == "paid":
        return CheckoutState.PAID
    if session.status == "expired":
        return CheckoutState.EXPIRED
    if session.status == "complete":
        if intent is not None and intent.status in _FAILED_INTENT:
            return CheckoutState.FAILED
        return CheckoutState.PROCESSING
    return CheckoutState.OPEN
