"""Payments, the provider events already applied, and the demo provider's own checkouts."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow
from portal.licensing.models import Quote, RepublishRequest
from portal.money import Money


class PaymentStatus(StrEnum):
    #: checkout started or invoice sent; nothing received yet
    OPEN = "open"
    #: the buyer completed the checkout with a bank payment that is still clearing
    PROCESSING = "processing"
    PAID = "paid"
    #: the payment method failed (an asynchronous bank debit bounced)
    FAILED = "failed"
    #: the checkout ran out (or was closed because the quote changed)
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    #: the buyer's bank disputes the charge; the licence is suspended meanwhile
    DISPUTED = "disputed"
    #: the dispute was lost: the money went back to the buyer
    CHARGED_BACK = "charged_back"


class PaymentProvider(StrEnum):
    STRIPE = "stripe"
    INVOICE = "invoice"
    DEMO = "demo"


def _enum(kind: type[StrEnum], length: int) -> Enum:
    return Enum(kind, native_enum=False, length=length,
                values_callable=lambda members: [m.value for m in members])


class Payment(Base):
    """One attempt to pay one quote with one provider (one Checkout Session, one invoice)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        UniqueConstraint("quote_id", "attempt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    #: 1 for the first try at paying this quote, +1 for each new checkout
    attempt: Mapped[int]
    provider: Mapped[PaymentProvider] = mapped_column(_enum(PaymentProvider, 16))
    #: the provider's id: a Checkout Session id, an invoice number, a demo checkout id
    provider_ref: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus, 24), index=True)
    #: what was asked for: the quote's fee, in minor units of `currency`
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: what the provider says was paid (it may differ: then nothing is released)
    paid_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    paid_currency: Mapped[str | None] = mapped_column(String(3))
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Stripe's PaymentIntent, which refunds, charges and disputes point back to
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    dispute_id: Mapped[str | None] = mapped_column(String(255))
    #: where the buyer pays (Stripe's hosted page, the demo page)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    #: random, in the addresses the provider sends the buyer back to (never the status
    #: page's token, which must not reach the provider)
    return_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: when the checkout stops taking payment (invoices: the due date)
    expires_at: Mapped[datetime | None]
    #: why a received payment released nothing (wrong amount, an older quote...): staff act
    problem: Mapped[str | None] = mapped_column(Text)
    #: staff's reference of a bank transfer that paid an invoice
    received_reference: Mapped[str | None] = mapped_column(String(200))
    #: the provider's receipt for the buyer (Stripe's receipt page), once paid
    receipt_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None]
    #: bumped by every update: a webhook and a fetch-back cannot both apply one change
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    request: Mapped[RepublishRequest] = relationship()
    quote: Mapped[Quote] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def paid_amount(self) -> Money | None:
        if self.paid_amount_minor is None or self.paid_currency is None:
            return None
        return Money(self.paid_amount_minor, self.paid_currency)

    @property
    def refunded(self) -> Money:
        return Money(self.refunded_minor, self.paid_currency or self.currency)

    @property
    def refundable_minor(self) -> int:
        if self.status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            return 0
        return max(0, (self.paid_amount_minor or 0) - self.refunded_minor)

    @property
    def refundable(self) -> Money:
        return Money(self.refundable_minor, self.paid_currency or self.currency)

    @property
    def is_under_way(self) -> bool:
        """Not settled yet: the buyer may still pay, or a payment is clearing."""
        return self.status in (PaymentStatus.OPEN, PaymentStatus.PROCESSING)

    @property
    def is_received(self) -> bool:
        """Money arrived at some point (whatever happened to it since)."""
        return self.paid_at is not None


class ProviderEvent(Base):
    """A provider event (a Stripe webhook) already applied: recorded in the same
    transaction as its effects, so a replay or a concurrent delivery does nothing."""

    __tablename__ = "provider_events"

    #: the provider's event id (evt_...)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoCheckout(Base):
    """The demo provider's side of a checkout: a stand-in for Stripe's records, so the
    demo drives the same confirmation path (fetch the provider's state, then apply it)."""

    __tablename__ = "demo_checkouts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: open, complete or expired (as a Checkout Session)
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: paid or unpaid
    payment_status: Mapped[str] = mapped_column(String(16), default="unpaid")
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime]
    #: where the test page sends the buyer after paying, or back (as Stripe does)
    success_url: Mapped[str | None] = mapped_column(Text)
    cancel_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
