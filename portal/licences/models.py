"""Licences: one per request, issued when it is paid for or approved free of charge."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.articles.models import Article
from portal.db import Base, utcnow
from portal.licensing.models import RepublishRequest
from portal.money import Money


class LicenceStatus(StrEnum):
    ACTIVE = "active"
    #: the payment is disputed; restored if the dispute is won
    SUSPENDED = "suspended"
    #: full refund, lost dispute, staff revocation, article taken down
    REVOKED = "revoked"
    #: the term ended
    EXPIRED = "expired"


class Licence(Base):
    """The right granted: who may republish which article, how, where, for how long."""

    __tablename__ = "licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: LIC-2026-000042, printed on the certificate and in the attribution
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: unique: one request gets at most one licence, however many webhooks arrive
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    #: the article's revision the licence was granted on
    article_revision: Mapped[int]
    #: the licensee organisation, as the request named it
    licensee: Mapped[str] = mapped_column(String(200))
    # Scope, copied from the request so that the licence stands on its own.
    medium: Mapped[str] = mapped_column(String(32))
    publication_name: Mapped[str] = mapped_column(String(200))
    audience_band: Mapped[str] = mapped_column(String(32))
    territory: Mapped[str] = mapped_column(String(32))
    territory_country: Mapped[str | None] = mapped_column(String(2))
    territory_region: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    translation_language: Mapped[str | None] = mapped_column(String(8))
    portion: Mapped[str] = mapped_column(String(32))
    excerpt_words: Mapped[int | None]
    # Term
    term: Mapped[str] = mapped_column(String(32))
    starts_on: Mapped[date]
    #: None: perpetual
    ends_on: Mapped[date | None]
    #: the fee paid (0 when approved free of charge)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: the payment that paid for it (None when free)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    status: Mapped[LicenceStatus] = mapped_column(
        Enum(LicenceStatus, native_enum=False, length=16,
             values_callable=lambda statuses: [s.value for s in statuses]),
        default=LicenceStatus.ACTIVE,
    )
    #: why it is not active (shown on the verification page and to the licensee)
    status_reason: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    request: Mapped[RepublishRequest] = relationship()
    article: Mapped[Article] = relationship()

    @property
    def fee(self) -> Money:
        return Money(self.fee_minor, self.currency)

    @property
    def is_active(self) -> bool:
        return self.status == LicenceStatus.ACTIVE
