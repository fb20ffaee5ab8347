"""Republishing requests, with their usage details, and the audit log of their states."""

from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.articles.models import Article
from portal.db import Base, utcnow
from portal.licensing.lifecycle import RequestState


class RepublishRequest(Base):
    """One request to republish one article (the table is "requests")."""

    __tablename__ = "requests"
    __table_args__ = (Index("ix_requests_state_created_at", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what people quote on the phone and in e-mails: RR-2026-00042
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    #: sha256 of the requester's status-page token; the token itself is never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: bumped by every update; two staff acting at once cannot both win
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    article: Mapped[Article] = relationship()
    events: Mapped[list["AuditEvent"]] = relationship(
        back_populates="request", order_by="AuditEvent.id", cascade="all, delete-orphan"
    )


class AuditEvent(Base):
    """Who moved a request from which state to which, when and why."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    #: "requester", "system", or "staff:<id>"
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[RepublishRequest] = relationship(back_populates="events")
