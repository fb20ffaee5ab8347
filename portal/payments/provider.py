"""What the portal needs from a payment provider, whoever it is.

A provider starts a checkout for an amount, says what became of it when asked (the portal
acts only on what the provider itself reports, never on the buyer's browser), closes a
checkout that is no longer wanted, refunds, lists the checkouts still open (so one the
portal never recorded is found and closed), and, where it pushes events, verifies them and
reports disputes. Stripe, the invoice desk and the demo stand-in each implement it;
registry.py binds them to the app, and only stripe_provider.py imports stripe.

Every method that reaches the provider may be slow or fail: callers never hold a database
transaction (or a row lock) while calling one.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from portal.money import Money
from portal.uow import DomainError

#: what the buyer or staff read when a payment provider fails; nothing was kept
PROVIDER_DOWN = ("The payment provider could not be reached, so nothing was charged and "
                 "nothing changed here. Please try again in a minute.")
PROVIDER_REFUSED = ("The payment provider refused the request, so nothing was charged and "
                    "nothing changed here. Please try again, or write to the licensing desk.")


class ProviderError(DomainError):
    """The provider refused or failed. `message` is for the log and for staff; the person
    acting reads `public_message` (the detail is in the log, not for the buyer's eyes)."""

    status = 502

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def public_message(self) -> str:
        return PROVIDER_REFUSED


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed on its side: trying again may work."""

    status = 503

    @property
    def public_message(self) -> str:
        return PROVIDER_DOWN


class ProviderNotFound(ProviderError):
    """The provider has no such object (deleted, or another account's)."""


@dataclass(frozen=True)
class CheckoutOrder:
    """Everything a provider needs to take payment of one quote."""

    payment_id: int
    #: this portal's base URL: marks its checkouts on a provider account others share
    portal: str
    request_reference: str
    quote_id: int
    quote_version: int
    amount: Money
    description: str
    buyer_email: str
    #: the checkout stops taking payment then (never after the quote's validity)
    expires_at: datetime
    success_url: str
    cancel_url: str
    #: the same order sent twice (a lost response, a retry) makes one checkout
    idempotency_key: str


@dataclass(frozen=True)
class Checkout:
    ref: str
    #: where the buyer goes to pay
    url: str
    expires_at: datetime


class CheckoutState(StrEnum):
    OPEN = "open"
    #: completed, but an asynchronous payment method is still clearing
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ProviderPayment:
    """What the provider reports about one checkout, fetched from the provider."""

    ref: str
    state: CheckoutState
    #: what the buyer paid (or is paying), as the provider reports it
    amount: Money | None = None
    payment_intent_id: str | None = None
    #: how much of it was refunded so far
    refunded_minor: int = 0
    #: the provider's receipt for the buyer, once paid
    receipt_url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class DisputeOutcome(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class ProviderDispute:
    id: str
    outcome: DisputeOutcome
    payment_intent_id: str | None
    reason: str | None = None


@dataclass(frozen=True)
class OpenCheckout:
    """A checkout the provider still takes payment on (for finding ones never recorded)."""

    ref: str
    created_at: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified event pushed by the provider; its object is fetched back before use."""

    id: str
    type: str
    #: the id of the event's object (cs_..., ch_..., du_...)
    object_id: str
    object_type: str


class EventKind(StrEnum):
    """What an event is about, as the portal acts on it."""

    CHECKOUT = "checkout"
    REFUND = "refund"
    DISPUTE = "dispute"
    IGNORED = "ignored"


class PaymentProviderBackend(Protocol):
    name: str
    #: True when the portal learns of payments by asking the provider (Stripe, demo)
    fetches_state: bool
    #: the origins of the pages the buyer's browser is sent to for paying (the request
    #: pages' Content-Security-Policy allows their forms to lead there)
    checkout_origins: tuple[str, ...]

    def start_checkout(self, order: CheckoutOrder) -> Checkout: ...

    def fetch(self, ref: str) -> ProviderPayment: ...

    def expire(self, ref: str) -> None: ...

    def refund(self, payment_intent_id: str | None, ref: str, amount_minor: int,
               idempotency_key: str) -> None: ...

    def list_open_checkouts(self, created_after: datetime) -> list[OpenCheckout]: ...

    # Providers that push events (Stripe). The others raise ProviderError.

    def parse_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent: ...

    def event_kind(self, event: WebhookEvent) -> EventKind: ...

    def payment_intent_of_charge(self, charge_id: str) -> tuple[str | None, dict[str, str]]: ...

    def fetch_dispute(self, dispute_id: str) -> tuple[ProviderDispute, dict[str, str]]: ...
