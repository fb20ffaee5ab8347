"""Money: integer minor units with an ISO 4217 currency. Parsing and formatting live here only.

The exponent table follows Stripe's: most currencies have two decimals, the zero-decimal ones
none, and a few three (Stripe still wants those in multiples of ten).
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency

ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_AMOUNT = re.compile(r"^\d{1,12}(?:[.,]\d{1,3})?$")


class MoneyError(ValueError):
    """An amount or currency that cannot be used."""


def exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("amounts are whole numbers of minor units")
        if not re.fullmatch(r"[A-Z]{3}", self.currency or ""):
            raise MoneyError(f"{self.currency!r} is not an ISO 4217 currency code")

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def format(self, locale: str = "en_GB") -> str:
        return format_currency(self.decimal, self.currency, locale=locale)

    def __str__(self) -> str:
        return self.format()


def parse_amount(text: str, currency: str) -> Money:
    """'1,250.50' is refused (ambiguous); '1250.50' or '1250,50' in GBP is Money(125050, 'GBP')."""
    cleaned = (text or "").strip().replace(" ", "")
    if not _AMOUNT.match(cleaned):
        raise MoneyError("Please give the amount as a number, like 250 or 250.00.")
    if re.fullmatch(r"\d+,\d{3}", cleaned) and exponent(currency) != 3:
        # "1,250" is a thousand and more to some, one and a quarter to others.
        raise MoneyError(f"Is {cleaned} a thousand or more, or a decimal? Please write it "
                         "without a thousands separator, like 1250 or 1.25.")
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        raise MoneyError("Please give the amount as a number, like 250 or 250.00.") from None
    places = exponent(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise MoneyError(f"{currency} amounts have at most {places} decimal places.")
    return Money(int(minor), currency)
