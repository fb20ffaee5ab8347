"""Republishing requests, with their usage details, quotes, messages and status tokens.

Their audit events live in portal.audit (shared by every domain)."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.articles.models import Article
from portal.audit import AuditEvent  # noqa: F401 (a request's events; re-exported)
from portal.db import Base, utcnow
from portal.licensing.lifecycle import QuoteStatus, RequestState
from portal.money import Money


class RepublishRequest(Base):
    """One request to republish one article (the table is "requests")."""

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_state_created_at", "state", "created_at"),
        Index("ix_requests_created_at", "created_at"),
        Index("ix_requests_organisation_type", "organisation_type"),
        Index("ix_requests_medium", "medium"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what people quote on the phone and in e-mails: RR-2026-00042
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    state: Mapped[RequestState] = mapped_column(
        Enum(
            RequestState,
            native_enum=False,
            length=32,
            values_callable=lambda states: [s.value for s in states],
        )
    )
    # Requester
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str] = mapped_column(String(320))
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_type: Mapped[str] = mapped_column(String(32))
    #: ISO 3166-1 alpha-2
    country: Mapped[str] = mapped_column(String(2))
    vat_id: Mapped[str | None] = mapped_column(String(32))
    # Use
    medium: Mapped[str] = mapped_column(String(32))
    publication_name: Mapped[str] = mapped_column(String(200))
    publication_url: Mapped[str | None] = mapped_column(String(2000))
    audience_band: Mapped[str] = mapped_column(String(32))
    territory: Mapped[str] = mapped_column(String(32))
    #: with territory "country": ISO 3166-1 alpha-2
    territory_country: Mapped[str | None] = mapped_column(String(2))
    #: with territory "region"
    territory_region: Mapped[str | None] = mapped_column(String(32))
    #: "original" or "translation"
    language: Mapped[str] = mapped_column(String(16))
    #: with language "translation": ISO 639-1 code of the target language
    translation_language: Mapped[str | None] = mapped_column(String(8))
    portion: Mapped[str] = mapped_column(String(32))
    #: with portion "excerpt": the most words that will be used
    excerpt_words: Mapped[int | None]
    term: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date]
    intended_edits: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    #: how this request is paid when not the portal's provider ("invoice" for institutions)
    payment_method: Mapped[str | None] = mapped_column(String(16))
    #: bought at once under the rate card's instant rules (no staff action)
    instant: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: when the requester's oldest message still unanswered by staff was written (the queue's
    #: "needs us" view); None when staff have the last word
    awaiting_reply_since: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: bumped by every update; two staff acting at once cannot both win
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    article: Mapped[Article] = relationship()
    events: Mapped[list["AuditEvent"]] = relationship(
        back_populates="request", order_by="AuditEvent.id", cascade="all, delete-orphan"
    )
    quotes: Mapped[list["Quote"]] = relationship(
        back_populates="request", order_by="Quote.version", cascade="all, delete-orphan"
    )
    messages: Mapped[list["RequestMessage"]] = relationship(
        back_populates="request", order_by="RequestMessage.id", cascade="all, delete-orphan"
    )
    tokens: Mapped[list["RequestToken"]] = relationship(
        back_populates="request", cascade="all, delete-orphan"
    )

    @property
    def current_quote(self) -> "Quote | None":
        """The newest quote, whatever its status."""
        return self.quotes[-1] if self.quotes else None


class RequestToken(Base):
    """A key to the requester's status page. Each e-mail to the requester carries a fresh
    random token (so every link they were sent works); only its sha256 is stored."""

    __tablename__ = "request_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[RepublishRequest] = relationship(back_populates="tokens")


class Quote(Base):
    """One priced offer for a request; re-quoting adds a version and supersedes the last."""

    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("request_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    #: 1 for the first quote of a request, +1 for each re-quote
    version: Mapped[int]
    #: the fee, in minor units of `currency`
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    valid_until: Mapped[datetime]
    #: licence terms particular to this quote, shown to the requester
    terms_note: Mapped[str | None] = mapped_column(Text)
    #: what the rate card suggested (None when it could not price the request)
    suggested_minor: Mapped[int | None] = mapped_column(BigInteger)
    #: the suggestion's lines, for the requester's breakdown: [[label, detail], ...]
    breakdown: Mapped[list[list[str]] | None] = mapped_column(JSON)
    #: why staff chose another amount than the suggestion
    override_reason: Mapped[str | None] = mapped_column(Text)
    #: the requester's counter-offer to this quote (minor units of `currency`)
    counter_minor: Mapped[int | None] = mapped_column(BigInteger)
    #: the licence terms the requester read and accepted with this quote, and when
    accepted_terms_id: Mapped[int | None] = mapped_column(ForeignKey("licence_terms.id"))
    terms_accepted_at: Mapped[datetime | None]
    status: Mapped[QuoteStatus] = mapped_column(
        Enum(QuoteStatus, native_enum=False, length=16,
             values_callable=lambda statuses: [s.value for s in statuses]),
        default=QuoteStatus.OPEN,
    )
    #: the audit actor who made it ("staff:3", or "system" for an auto-quote)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[RepublishRequest] = relationship(back_populates="quotes")

    @property
    def fee(self) -> Money:
        return Money(self.amount_minor, self.currency)


class MessageKind(StrEnum):
    #: staff ask the requester for more information
    QUESTION = "question"
    #: the requester's answer
    ANSWER = "answer"
    #: staff-only note, never shown to the requester
    NOTE = "note"
    #: staff's reason for declining, shown to the requester
    DECLINE = "decline"
    #: the requester's message when declining a quote or withdrawing
    REQUESTER = "requester"


class RequestMessage(Base):
    """A message on a request's timeline (the requester sees all but internal notes)."""

    __tablename__ = "request_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[MessageKind] = mapped_column(
        Enum(MessageKind, native_enum=False, length=16,
             values_callable=lambda kinds: [k.value for k in kinds])
    )
    #: "requester", "system" or "staff:<id>"
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[RepublishRequest] = relationship(back_populates="messages")

    @property
    def is_internal(self) -> bool:
        return self.kind == MessageKind.NOTE


class DeclineTemplate(Base):
    """A reusable reason for declining, editable by admins."""

    __tablename__ = "decline_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
