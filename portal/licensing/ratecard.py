"""The rate card as data: its one row of settings, its base fees and factors, the defaults
`demo load` seeds, and the snapshot (pricing.RateCardData) that pricing works from.
"""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, String, UniqueConstraint, false, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import security_events
from portal.db import Base, utcnow
from portal.licensing.pricing import (
    BASE_DIMENSION,
    DIMENSIONS,
    FACTOR_DIMENSIONS,
    RateCardData,
)
from portal.money import exponent

#: the audit actor of changes nobody made by hand (seeding)
SYSTEM_ACTOR = "system"


class RateCard(Base):
    """The card's settings. There is one current card: the row with the lowest id."""

    __tablename__ = "rate_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ISO 4217; every amount of the card (and of its base fees) is in this currency
    currency: Mapped[str] = mapped_column(String(3))
    #: no suggestion is lower (minor units; a whole number of rounding steps)
    minimum_minor: Mapped[int] = mapped_column(BigInteger)
    #: suggestions are rounded half-up to a multiple of this (minor units, at least 1)
    rounding_minor: Mapped[int] = mapped_column(BigInteger)
    #: added when the requester will translate the text (minor units)
    translation_surcharge_minor: Mapped[int] = mapped_column(BigInteger)
    #: multiplies the fee of articles whose price_tier is "premium" (1000 = × 1.0)
    premium_factor_permille: Mapped[int]
    #: requests priced at or under autoquote_max_minor get a quote from the system at once
    autoquote_enabled: Mapped[bool] = mapped_column(default=False)
    autoquote_max_minor: Mapped[int] = mapped_column(BigInteger)
    #: how long a quote stays open for acceptance
    quote_validity_days: Mapped[int]
    #: standard uses are sold at once (no staff action): those the rules allow, priced at or
    #: under instant_max_minor
    instant_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    instant_max_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: what an instant use may be: {"price_tier": [...], "medium": [...], "audience_band":
    #: [...], "territory": [...], "term": [...]} (a dimension left out allows nothing)
    instant_rules: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: the audit actor of the last change ("staff:3", or "system" when seeded)
    updated_by: Mapped[str] = mapped_column(String(200))


class RateFactor(Base):
    """One rate of one usage answer: a base fee for a medium, a factor for anything else."""

    __tablename__ = "rate_factors"
    __table_args__ = (UniqueConstraint("dimension", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: a key of pricing.DIMENSIONS: "medium", "organisation_type", "audience_band", ...
    dimension: Mapped[str] = mapped_column(String(32))
    #: the allow-listed answer (licensing.usage), e.g. "non_profit"
    code: Mapped[str] = mapped_column(String(32))
    #: for "medium" the base fee in the card's minor units, otherwise per mille (1000 = × 1.0)
    value: Mapped[int] = mapped_column(BigInteger)


# Defaults, with amounts in whole major units of the card's currency. They suit currencies
# whose unit is worth about a pound, euro or dollar; admins set the real figures.
DEFAULT_BASE_FEES = {
    "website": 200, "print": 250, "newsletter": 120, "broadcast": 300, "book": 400,
    "course_pack": 150, "social_media": 100, "intranet": 80,
}
DEFAULT_FACTORS = {
    "organisation_type": {"commercial_media": 1000, "non_profit": 500, "education": 400,
                          "individual": 300, "corporate": 1500},
    "audience_band": {"under_10k": 500, "10k_100k": 1000, "100k_1m": 1500, "1m_10m": 2500,
                      "over_10m": 4000},
    "territory": {"country": 1000, "region": 1500, "worldwide": 2000},
    "term": {"one_month": 500, "one_year": 1000, "perpetual": 2500},
    "portion": {"full": 1000, "excerpt": 600, "headline_summary": 300},
}
DEFAULT_MINIMUM = 50
DEFAULT_ROUNDING = 5
DEFAULT_TRANSLATION_SURCHARGE = 50
DEFAULT_PREMIUM_PERMILLE = 1500
DEFAULT_AUTOQUOTE_MAX = 500
DEFAULT_QUOTE_VALIDITY_DAYS = 30
#: a code added to licensing.usage after seeding gets this until an admin sets it
NEUTRAL_FACTOR = 1000


#: the card's settings besides its rates, as the security log names what changed
_SETTINGS = ("currency", "minimum_minor", "rounding_minor", "translation_surcharge_minor",
             "premium_factor_permille", "autoquote_enabled", "autoquote_max_minor",
             "quote_validity_days")


def _rates(data: RateCardData) -> dict[tuple[str, str], int]:
    """Every rate of the card as (dimension, code) -> value, the shape of RateFactor rows."""
    rates = {(BASE_DIMENSION, code): fee for code, fee in data.base_fees.items()}
    rates |= {(dimension, code): factor
              for dimension, codes in data.factors.items() for code, factor in codes.items()}
    return rates


def current_rate_card(db: Session) -> RateCard | None:
    return db.scalars(select(RateCard).order_by(RateCard.id).limit(1)).first()


def default_rate_card(currency: str) -> RateCardData:
    """The defaults in `currency`, with a rate for every allow-listed usage answer."""
    unit = 10 ** exponent(currency)
    # A medium added to licensing.usage later starts at the cheapest base fee.
    fallback_fee = min(DEFAULT_BASE_FEES.values())
    _, media = DIMENSIONS[BASE_DIMENSION]
    return RateCardData(
        currency=currency,
        base_fees={code: DEFAULT_BASE_FEES.get(code, fallback_fee) * unit for code in media},
        factors={
            dimension: {code: DEFAULT_FACTORS[dimension].get(code, NEUTRAL_FACTOR)
                        for code in DIMENSIONS[dimension][1]}
            for dimension in FACTOR_DIMENSIONS
        },
        translation_surcharge_minor=DEFAULT_TRANSLATION_SURCHARGE * unit,
        rounding_minor=DEFAULT_ROUNDING * unit,
        minimum_minor=DEFAULT_MINIMUM * unit,
        premium_factor_permille=DEFAULT_PREMIUM_PERMILLE,
        autoquote_enabled=False,
        autoquote_max_minor=DEFAULT_AUTOQUOTE_MAX * unit,
        quote_validity_days=DEFAULT_QUOTE_VALIDITY_DAYS,
    )


def seed_default_rate_card(db: Session, currency: str) -> RateCard:
    """Create the default card in `currency` if there is none, and a rate for every usage
    answer that lacks one. Existing values are never changed, so seeding twice is a no-op."""
    card = current_rate_card(db)
    if card is None:
        return save_rate_card(db, default_rate_card(currency), actor=SYSTEM_ACTOR)
    # A code added to licensing.usage since the card was made gets its default, in the
    # card's own currency.
    defaults = default_rate_card(card.currency)
    existing = {(rate.dimension, rate.code) for rate in db.scalars(select(RateFactor))}
    for (dimension, code), value in _rates(defaults).items():
        if (dimension, code) not in existing:
            db.add(RateFactor(dimension=dimension, code=code, value=value))
    # Flushed so that a clash with a concurrent seeding surfaces here, not at the commit.
    db.flush()
    return card


def load_rate_card(db: Session) -> RateCardData | None:
    """The current card as pricing sees it, or None before any card exists."""
    card = current_rate_card(db)
    if card is None:
        return None
    base_fees: dict[str, int] = {}
    factors: dict[str, dict[str, int]] = {dimension: {} for dimension in FACTOR_DIMENSIONS}
    for rate in db.scalars(select(RateFactor)):
        if rate.dimension == BASE_DIMENSION:
            base_fees[rate.code] = rate.value
        elif rate.dimension in factors:
            factors[rate.dimension][rate.code] = rate.value
    return RateCardData(
        currency=card.currency,
        base_fees=base_fees,
        factors=factors,
        translation_surcharge_minor=card.translation_surcharge_minor,
        rounding_minor=card.rounding_minor,
        minimum_minor=card.minimum_minor,
        premium_factor_permille=card.premium_factor_permille,
        autoquote_enabled=card.autoquote_enabled,
        autoquote_max_minor=card.autoquote_max_minor,
        quote_validity_days=card.quote_validity_days,
    )


def save_rate_card(db: Session, data: RateCardData, *, actor: str) -> RateCard:
    """Make `data` the current card: its settings and every rate it names."""
    card = current_rate_card(db)
    before = load_rate_card(db) if card is not None else None
    if card is None:
        card = RateCard()
        db.add(card)
    card.currency = data.currency
    card.minimum_minor = data.minimum_minor
    card.rounding_minor = data.rounding_minor
    card.translation_surcharge_minor = data.translation_surcharge_minor
    card.premium_factor_permille = data.premium_factor_permille
    card.autoquote_enabled = data.autoquote_enabled
    card.autoquote_max_minor = data.autoquote_max_minor
    card.quote_validity_days = data.quote_validity_days
    card.updated_by = actor
    # Set here too: onupdate fires only when a column changed, and saving the same values
    # still records who last confirmed the card.
    card.updated_at = utcnow()
    rates = {(rate.dimension, rate.code): rate for rate in db.scalars(select(RateFactor))}
    for (dimension, code), value in _rates(data).items():
        rate = rates.get((dimension, code))
        if rate is None:
            db.add(RateFactor(dimension=dimension, code=code, value=value))
        else:
            rate.value = value
    security_events.record(db, "rate_card_changed", actor=actor, target="rate card",
                           detail=describe_changes(before, data))
    # Flushed so that a clash with a concurrent save surfaces here, not at the commit.
    db.flush()
    return card


def describe_changes(before: RateCardData | None, after: RateCardData) -> str:
    """What a save changed, setting by setting and rate by rate, for the security log."""
    if before is None:
        return "the first rate card"
    changes = [f"{name} {old} → {new}" for name, old, new in (
        (name, getattr(before, name), getattr(after, name))
        for name in _SETTINGS) if old != new]
    old_rates, new_rates = _rates(before), _rates(after)
    changes += [f"{dimension}/{code} {old_rates.get((dimension, code))} → {value}"
                for (dimension, code), value in new_rates.items()
                if old_rates.get((dimension, code)) != value]
    return "; ".join(changes) or "saved without changes"
