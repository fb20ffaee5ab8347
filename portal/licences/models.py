"""Licences: one per request, issued when it is paid for or approved free of charge."""

import hmac
import re
import secrets
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.articles.models import Article
from portal.db import Base, utcnow
from portal.licensing.models import RepublishRequest
from portal.money import Money

#: Crockford's base 32: no I, L, O or U, so a code read aloud or off paper is typed right
CHECK_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_NOT_CODE = re.compile(r"[^0-9A-Z]")


def new_check_code() -> str:
    """Eight random characters (40 bits), shown as K7QF-2M9X."""
    code = "".join(secrets.choice(CHECK_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def normal_check_code(given: str) -> str:
    """A code as typed (any case, spaces or dashes, O for 0, I or L for 1) in one form."""
    code = _NOT_CODE.sub("", given.upper())
    return code.translate(str.maketrans("OIL", "011"))


def check_codes_match(stored: str, given: str | None) -> bool:
    """Whether `given` is the code `stored`, compared in constant time."""
    return hmac.compare_digest(normal_check_code(given or "").encode(),
                               normal_check_code(stored).encode())


class LicenceStatus(StrEnum):
    ACTIVE = "active"
    #: the payment is disputed; restored if the dispute is won
    SUSPENDED = "suspended"
    #: full refund, lost dispute, staff revocation, article taken down
    REVOKED = "revoked"
    #: the term ended
    EXPIRED = "expired"


class LicenceTerms(Base):
    """A version of the licence terms text. Never edited in place: new terms are a new row,
    and each licence names the version it was granted under."""

    __tablename__ = "licence_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. "2026-1", printed on certificates
    version: Mapped[str] = mapped_column(String(32), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Licence(Base):
    """The right granted: who may republish which article, how, where, for how long."""

    __tablename__ = "licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: LIC-2026-000042, printed on the certificate and in the attribution
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: random, in the licensed copy's tracking image (/t/<key>.gif): not guessable from the
    #: number, so nobody inflates another licensee's readership
    tracking_key: Mapped[str] = mapped_column(String(32), unique=True,
                                              default=lambda: secrets.token_urlsafe(16))
    #: random, printed with the number wherever the licence is shown to be checked (the
    #: attribution, the certificate, the verification link): numbers are sequential, so
    #: the verification page shows nothing to whoever has the number without the code
    check_code: Mapped[str] = mapped_column(String(16), default=new_check_code)
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
    #: the terms text it was granted under
    terms_id: Mapped[int] = mapped_column(ForeignKey("licence_terms.id"))
    #: when the licensee accepted those terms (None: granted before acceptance was asked)
    terms_accepted_at: Mapped[datetime | None]
    status: Mapped[LicenceStatus] = mapped_column(
        Enum(LicenceStatus, native_enum=False, length=16,
             values_callable=lambda statuses: [s.value for s in statuses]),
        default=LicenceStatus.ACTIVE,
    )
    #: why it is not active (shown on the verification page and to the licensee)
    status_reason: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: when the licensee was reminded that the term ends soon (once)
    renewal_reminded_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    request: Mapped[RepublishRequest] = relationship()
    article: Mapped[Article] = relationship()
    terms: Mapped[LicenceTerms] = relationship()

    @property
    def fee(self) -> Money:
        return Money(self.fee_minor, self.currency)

    @property
    def is_active(self) -> bool:
        """Active, and within its term today (before `licences expire` has run, too)."""
        return self.status == LicenceStatus.ACTIVE and not self.has_ended()

    def has_ended(self, today: date | None = None) -> bool:
        return self.ends_on is not None and self.ends_on < (today or utcnow().date())

    def has_check_code(self, given: str | None) -> bool:
        """Whether `given` is this licence's check code (compared in constant time)."""
        return check_codes_match(self.check_code, given)

    @property
    def shown_status(self) -> str:
        """What the verification page says: valid, expired, suspended or revoked."""
        if self.status == LicenceStatus.ACTIVE:
            return "expired" if self.has_ended() else "valid"
        return self.status.value
