"""What the portal needs from a payment provider, whoever it is.

A provider starts a checkout for an amount, says what became of it when asked (the portal
acts only on what the provider itself reports, never on the buyer's browser), closes a
checkout that is no longer wanted, and refunds. Stripe, the invoice desk and the demo
stand-in each implement it; services.py picks one by the payment's provider name.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from portal.money import Money


class ProviderError(Exception):
    """The provider refused or failed. `message` is for the person acting."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed on its side: trying again may work."""


class ProviderNotFound(ProviderError):
    """The provider has no such object (deleted, or another account's)."""


@dataclass(frozen=True)
class CheckoutOrder:
    """Everything a provider needs to take payment of one quote."""

    payment_id: int
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


class PaymentProviderBackend(Protocol):
    name: str
    #: True when the portal learns of payments by asking the provider (Stripe, demo)
    fetches_state: bool

    def start_checkout(self, order: CheckoutOrder) -> Checkout: ...

    def fetch(self, ref: str) -> ProviderPayment: ...

    def expire(self, ref: str) -> None: ...

    def refund(self, payment_intent_id: str | None, ref: str, amount_minor: int,
               idempotency_key: str) -> None: ...
