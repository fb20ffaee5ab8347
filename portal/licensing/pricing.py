"""The rate card's arithmetic: a suggested fee, with the breakdown staff and requesters see.

fee = base[medium] × organisation × audience × territory × term × portion (× premium)
      + translation surcharge, rounded half-up to the card's step, then at least the minimum.

Pure functions over a snapshot of the card (RateCardData): no database, no Flask, no floats.
Factors are whole per-mille numbers (1000 = × 1.0), so the product is an exact Fraction and
the only rounding is the one the card asks for, once, at the end.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from portal.licensing import usage
from portal.money import Money

#: the dimension whose values are base fees (minor units) rather than factors
BASE_DIMENSION = "medium"
#: every dimension of the card: name -> (how the breakdown calls it, its allow-listed codes)
DIMENSIONS: dict[str, tuple[str, dict[str, str]]] = {
    BASE_DIMENSION: ("Base fee", usage.MEDIA),
    "organisation_type": ("Organisation", usage.ORGANISATION_TYPES),
    "audience_band": ("Audience", usage.AUDIENCE_BANDS),
    "territory": ("Territory", usage.TERRITORIES),
    "term": ("Term", usage.TERMS),
    "portion": ("Portion", usage.PORTIONS),
}
FACTOR_DIMENSIONS = tuple(name for name in DIMENSIONS if name != BASE_DIMENSION)
#: a factor of 1000 per mille multiplies by one
PER_MILLE = 1000
#: Article.price_tier values
PRICE_TIERS = {
    "standard": "Standard",
    "premium": "Premium",
    "not_for_sale": "Not for sale",
}


class UsageForPricing(Protocol):
    """What pricing reads of a request: RepublishRequest, or a Usage for a worked example."""

    @property
    def medium(self) -> str: ...
    @property
    def organisation_type(self) -> str: ...
    @property
    def audience_band(self) -> str: ...
    @property
    def territory(self) -> str: ...
    @property
    def term(self) -> str: ...
    @property
    def portion(self) -> str: ...
    @property
    def language(self) -> str: ...


@dataclass(frozen=True)
class Usage:
    """The priced usage details on their own (the staff calculator, tests)."""

    medium: str
    organisation_type: str
    audience_band: str
    territory: str
    term: str
    portion: str
    language: str = "original"


@dataclass(frozen=True)
class RateCardData:
    """A snapshot of the rate card. Amounts are minor units of `currency`."""

    currency: str
    #: medium code -> base fee
    base_fees: Mapping[str, int]
    #: dimension (one of FACTOR_DIMENSIONS) -> code -> factor in per mille
    factors: Mapping[str, Mapping[str, int]]
    translation_surcharge_minor: int
    #: the fee is a whole number of these
    rounding_minor: int
    minimum_minor: int
    #: applies to articles whose price_tier is "premium"
    premium_factor_permille: int
    autoquote_enabled: bool
    #: auto-quote only suggestions at or under this
    autoquote_max_minor: int
    quote_validity_days: int

    def __post_init__(self) -> None:
        # A card that breaks these would give fees off the step or below zero; the admin
        # form refuses such values, and this keeps any other writer honest too.
        Money(0, self.currency)
        if self.rounding_minor < 1:
            raise ValueError("the rounding step must be at least one minor unit")
        if self.minimum_minor < 0 or self.minimum_minor % self.rounding_minor:
            raise ValueError("the minimum fee must be a whole number of rounding steps")
        amounts = [self.translation_surcharge_minor, self.autoquote_max_minor,
                   *self.base_fees.values()]
        if any(amount < 0 for amount in amounts):
            raise ValueError("amounts cannot be negative")
        factors = [self.premium_factor_permille,
                   *(value for codes in self.factors.values() for value in codes.values())]
        if any(factor <= 0 for factor in factors):
            raise ValueError("factors must be above zero")

    def money(self, minor: int) -> Money:
        return Money(minor, self.currency)


@dataclass(frozen=True)
class Suggestion:
    """A suggested fee and how it was reached: [(what, amount or factor), ...]."""

    fee: Money
    lines: list[tuple[str, str]]


def format_factor(permille: int) -> str:
    """1500 -> "1.5", 1000 -> "1", 125 -> "0.125" (no float is ever made)."""
    whole, fraction = divmod(permille, PER_MILLE)
    return f"{whole}.{fraction:03d}".rstrip("0").rstrip(".")


def round_half_up(amount: Fraction, step: int) -> int:
    """The multiple of `step` nearest to `amount`, halves going up."""
    return int((amount * 2 + step) // (2 * step)) * step


def suggest(card: RateCardData, request: UsageForPricing, *, price_tier: str) -> Suggestion | None:
    """The rate card's fee for this usage, or None when the card cannot price it: the article
    is not for sale (or its price tier unknown), or an answer has no rate on the card. Staff
    then price the request themselves."""
    if price_tier not in ("standard", "premium"):
        return None
    base = card.base_fees.get(request.medium)
    if base is None:
        return None
    base_label, media = DIMENSIONS[BASE_DIMENSION]
    lines = [(f"{base_label}: {media.get(request.medium, request.medium)}",
              card.money(base).format())]
    amount = Fraction(base)
    for dimension in FACTOR_DIMENSIONS:
        code = getattr(request, dimension)
        factor = card.factors.get(dimension, {}).get(code)
        if factor is None:
            return None
        what, labels = DIMENSIONS[dimension]
        lines.append((f"{what}: {labels.get(code, code)}", f"× {format_factor(factor)}"))
        amount *= Fraction(factor, PER_MILLE)
    if price_tier == "premium":
        # The premium is on the licence's value; translation is a flat cost, added after.
        lines.append(("Premium article", f"× {format_factor(card.premium_factor_permille)}"))
        amount *= Fraction(card.premium_factor_permille, PER_MILLE)
    if request.language == "translation":
        lines.append(("Translation surcharge",
                      f"+ {card.money(card.translation_surcharge_minor).format()}"))
        amount += card.translation_surcharge_minor
    elif request.language != "original":
        return None
    fee = round_half_up(amount, card.rounding_minor)
    lines.append((f"Rounded to {card.money(card.rounding_minor).format()} steps",
                  card.money(fee).format()))
    if fee < card.minimum_minor:
        fee = card.minimum_minor
        lines.append(("Minimum fee applies", card.money(fee).format()))
    return Suggestion(fee=card.money(fee), lines=lines)


def is_within_autoquote(card: RateCardData, suggestion: Suggestion | None) -> bool:
    """True when this suggestion may be quoted at once, by the system, without staff."""
    return (
        card.autoquote_enabled
        and suggestion is not None
        and suggestion.fee.currency == card.currency
        and suggestion.fee.minor <= card.autoquote_max_minor
    )
