"""The rate card's arithmetic on worked examples (each computed by hand), and its properties."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.licensing import usage
from portal.licensing.models import RepublishRequest
from portal.licensing.pricing import (
    FACTOR_DIMENSIONS,
    RateCardData,
    Usage,
    format_factor,
    is_within_autoquote,
    suggest,
)
from portal.money import Money

CARD = RateCardData(
    currency="GBP",
    base_fees={"website": 200_00, "newsletter": 135_00, "book": 400_00},
    factors={
        "organisation_type": {"commercial_media": 1000, "non_profit": 500, "education": 400,
                              "corporate": 1500},
        "audience_band": {"under_10k": 500, "10k_100k": 1000, "100k_1m": 1500},
        "territory": {"country": 1000, "region": 1500, "worldwide": 2000},
        "term": {"one_month": 500, "one_year": 1000, "perpetual": 2500},
        "portion": {"full": 1000, "excerpt": 600, "headline_summary": 300},
    },
    translation_surcharge_minor=50_00,
    rounding_minor=5_00,
    minimum_minor=50_00,
    premium_factor_permille=1500,
    autoquote_enabled=True,
    autoquote_max_minor=500_00,
    quote_validity_days=30,
)


def usage_of(**changes: str) -> Usage:
    answers = {"medium": "website", "organisation_type": "commercial_media",
               "audience_band": "10k_100k", "territory": "country", "term": "one_year",
               "portion": "full", "language": "original"}
    return Usage(**(answers | changes))


def test_the_plain_case_is_the_base_fee_with_every_step_shown() -> None:
    # 200.00 × 1 × 1 × 1 × 1 × 1 = 200.00, already a multiple of 5.00
    suggestion = suggest(CARD, usage_of(), price_tier="standard")
    assert suggestion is not None
    assert suggestion.fee == Money(200_00, "GBP")
    assert suggestion.lines == [
        ("Base fee: Website", "£200.00"),
        ("Organisation: Commercial media (newspaper, magazine, broadcaster, website)", "× 1"),
        ("Audience: 10,000 to 100,000", "× 1"),
        ("Territory: One country", "× 1"),
        ("Term: One year", "× 1"),
        ("Portion: Full text", "× 1"),
        ("Rounded to £5.00 steps", "£200.00"),
    ]


def test_factors_multiply_and_the_translation_surcharge_is_added() -> None:
    # 200.00 × 0.5 (non-profit) = 100.00; × 1.5 (100k-1m) = 150.00; × 1.5 (region) = 225.00;
    # × 1 (one year) = 225.00; × 0.6 (excerpt) = 135.00; + 50.00 translation = 185.00
    suggestion = suggest(CARD, usage_of(organisation_type="non_profit", audience_band="100k_1m",
                                        territory="region", portion="excerpt",
                                        language="translation"), price_tier="standard")
    assert suggestion is not None
    assert suggestion.fee == Money(185_00, "GBP")
    assert ("Organisation: Non-profit or NGO", "× 0.5") in suggestion.lines
    assert ("Portion: Excerpt", "× 0.6") in suggestion.lines
    assert suggestion.lines[-2:] == [("Translation surcharge", "+ £50.00"),
                                     ("Rounded to £5.00 steps", "£185.00")]


def test_rounding_goes_half_up_at_a_step_boundary() -> None:
    # 135.00 × 1.5 (100k-1m) = 202.50: exactly half way between 200.00 and 205.00 -> 205.00
    # (bankers' rounding would give 200.00)
    halfway = suggest(CARD, usage_of(medium="newsletter", audience_band="100k_1m"),
                      price_tier="standard")
    assert halfway is not None and halfway.fee == Money(205_00, "GBP")
    # 134.99 × 1.5 = 202.485, just under half way -> 200.00
    below = suggest(replace(CARD, base_fees={"newsletter": 134_99}),
                    usage_of(medium="newsletter", audience_band="100k_1m"),
                    price_tier="standard")
    assert below is not None and below.fee == Money(200_00, "GBP")
    # with a step of one penny: 20248.5 pence is half way, and goes up to 202.49
    pennies = suggest(replace(CARD, base_fees={"newsletter": 134_99}, rounding_minor=1,
                              minimum_minor=0),
                      usage_of(medium="newsletter", audience_band="100k_1m"),
                      price_tier="standard")
    assert pennies is not None and pennies.fee == Money(202_49, "GBP")
    assert pennies.lines[-1] == ("Rounded to £0.01 steps", "£202.49")


def test_the_minimum_fee_applies_below_it() -> None:
    # 200.00 × 0.4 (education) = 80.00; × 0.5 (under 10k) = 40.00; × 1 (country) = 40.00;
    # × 0.5 (one month) = 20.00; × 0.3 (headline) = 6.00 -> rounded to 5.00 -> minimum 50.00
    suggestion = suggest(CARD, usage_of(organisation_type="education", audience_band="under_10k",
                                        term="one_month", portion="headline_summary"),
                         price_tier="standard")
    assert suggestion is not None
    assert suggestion.fee == Money(50_00, "GBP")
    assert suggestion.lines[-2:] == [("Rounded to £5.00 steps", "£5.00"),
                                     ("Minimum fee applies", "£50.00")]


def test_a_premium_article_multiplies_the_fee_before_the_surcharge() -> None:
    # 400.00 × 1.5 (corporate) = 600.00; × 1.5 (100k-1m) = 900.00; × 2 (worldwide) = 1800.00;
    # × 2.5 (perpetual) = 4500.00; × 1 (full) = 4500.00; × 1.5 (premium) = 6750.00;
    # + 50.00 translation = 6800.00 (the surcharge is a flat cost: not 6825.00)
    suggestion = suggest(CARD, usage_of(medium="book", organisation_type="corporate",
                                        audience_band="100k_1m", territory="worldwide",
                                        term="perpetual", language="translation"),
                         price_tier="premium")
    assert suggestion is not None
    assert suggestion.fee == Money(6800_00, "GBP")
    assert ("Premium article", "× 1.5") in suggestion.lines
    assert suggestion.lines[-1] == ("Rounded to £5.00 steps", "£6,800.00")


def test_a_not_for_sale_article_has_no_suggestion() -> None:
    assert suggest(CARD, usage_of(), price_tier="not_for_sale") is None


def test_a_zero_decimal_currency_works_in_whole_yen() -> None:
    card = replace(CARD, currency="JPY", base_fees={"website": 30_000},
                   translation_surcharge_minor=8_000, rounding_minor=1_000, minimum_minor=5_000,
                   autoquote_max_minor=20_000)
    # (Babel writes JP¥ in the en_GB locale.)
    # ¥30,000 × 0.5 (non-profit) = 15,000; × 1 (10k-100k) = 15,000; × 1.5 (region) = 22,500;
    # × 0.5 (one month) = 11,250; × 0.6 (excerpt) = 6,750; + ¥8,000 = 14,750 -> ¥15,000
    suggestion = suggest(card, usage_of(organisation_type="non_profit", territory="region",
                                        term="one_month", portion="excerpt",
                                        language="translation"), price_tier="standard")
    assert suggestion is not None
    assert suggestion.fee == Money(15_000, "JPY")
    assert suggestion.lines[0] == ("Base fee: Website", "JP¥30,000")
    assert suggestion.lines[-1] == ("Rounded to JP¥1,000 steps", "JP¥15,000")
    assert is_within_autoquote(card, suggestion)


def test_a_request_row_can_be_priced_directly() -> None:
    request = RepublishRequest(medium="website", organisation_type="non_profit",
                               audience_band="10k_100k", territory="country", term="one_year",
                               portion="full", language="original")
    # 200.00 × 0.5 = 100.00
    suggestion = suggest(CARD, request, price_tier="standard")
    assert suggestion is not None and suggestion.fee == Money(100_00, "GBP")


@pytest.mark.parametrize("changes", [
    {"medium": "broadcast"},  # a medium the card has no base fee for
    {"organisation_type": "individual"},  # a code the card has no factor for
    {"language": "klingon"},
])
def test_an_answer_the_card_cannot_price_gives_no_suggestion(changes: dict[str, str]) -> None:
    assert suggest(CARD, usage_of(**changes), price_tier="standard") is None


def test_auto_quote_only_inside_its_bounds() -> None:
    at_limit = suggest(replace(CARD, base_fees={"website": 500_00}), usage_of(),
                       price_tier="standard")
    over = suggest(replace(CARD, base_fees={"website": 505_00}), usage_of(),
                   price_tier="standard")
    assert at_limit is not None and over is not None
    assert is_within_autoquote(CARD, at_limit)
    assert not is_within_autoquote(CARD, over)
    assert not is_within_autoquote(replace(CARD, autoquote_enabled=False), at_limit)
    assert not is_within_autoquote(CARD, None)


@pytest.mark.parametrize(("permille", "shown"), [
    (1000, "1"), (1500, "1.5"), (1250, "1.25"), (125, "0.125"), (1, "0.001"), (100_000, "100"),
])
def test_factors_are_shown_as_decimals(permille: int, shown: str) -> None:
    assert format_factor(permille) == shown


@pytest.mark.parametrize("changes", [
    {"rounding_minor": 0},
    {"minimum_minor": 52_00},  # not a whole number of 5.00 steps
    {"translation_surcharge_minor": -1},
    {"premium_factor_permille": 0},
    {"factors": {"term": {"one_year": 0}}},
    {"currency": "pounds"},
])
def test_an_inconsistent_card_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replace(CARD, **changes)  # type: ignore[arg-type]


# Properties, over any consistent card and any answers.

CURRENCIES = st.sampled_from(["GBP", "JPY", "KWD"])
FACTOR = st.integers(min_value=1, max_value=100_000)
AMOUNT = st.integers(min_value=0, max_value=10**9)


@st.composite
def cards(draw: st.DrawFn) -> RateCardData:
    step = draw(st.integers(min_value=1, max_value=100_000))
    return RateCardData(
        currency=draw(CURRENCIES),
        base_fees={code: draw(AMOUNT) for code in usage.MEDIA},
        factors={dimension: {code: draw(FACTOR) for code in usage_codes(dimension)}
                 for dimension in FACTOR_DIMENSIONS},
        translation_surcharge_minor=draw(AMOUNT),
        rounding_minor=step,
        minimum_minor=step * draw(st.integers(min_value=0, max_value=1000)),
        premium_factor_permille=draw(FACTOR),
        autoquote_enabled=draw(st.booleans()),
        autoquote_max_minor=draw(AMOUNT),
        quote_validity_days=30,
    )


def usage_codes(dimension: str) -> list[str]:
    return list({"organisation_type": usage.ORGANISATION_TYPES,
                 "audience_band": usage.AUDIENCE_BANDS, "territory": usage.TERRITORIES,
                 "term": usage.TERMS, "portion": usage.PORTIONS}[dimension])


USAGES = st.builds(
    Usage,
    medium=st.sampled_from(list(usage.MEDIA)),
    organisation_type=st.sampled_from(usage_codes("organisation_type")),
    audience_band=st.sampled_from(usage_codes("audience_band")),
    territory=st.sampled_from(usage_codes("territory")),
    term=st.sampled_from(usage_codes("term")),
    portion=st.sampled_from(usage_codes("portion")),
    language=st.sampled_from(list(usage.LANGUAGE_OPTIONS)),
)
TIERS = st.sampled_from(["standard", "premium"])


@given(card=cards(), request=USAGES, tier=TIERS)
def test_the_fee_is_whole_steps_and_never_below_the_minimum(
    card: RateCardData, request: Usage, tier: str
) -> None:
    suggestion = suggest(card, request, price_tier=tier)
    assert suggestion is not None
    assert suggestion.fee.currency == card.currency
    assert suggestion.fee.minor % card.rounding_minor == 0
    assert suggestion.fee.minor >= card.minimum_minor


def raised(card: RateCardData, request: Usage, what: str, by: int) -> RateCardData:
    """The card with the rate `what` of this request raised by `by`."""
    if what == "medium":
        fees = dict(card.base_fees)
        fees[request.medium] += by
        return replace(card, base_fees=fees)
    if what in FACTOR_DIMENSIONS:
        factors = {dimension: dict(codes) for dimension, codes in card.factors.items()}
        factors[what][getattr(request, what)] += by
        return replace(card, factors=factors)
    return replace(card, **{what: getattr(card, what) + by})


@given(card=cards(), request=USAGES, tier=TIERS,
       what=st.sampled_from(["medium", *FACTOR_DIMENSIONS, "premium_factor_permille",
                             "translation_surcharge_minor"]),
       by=st.integers(min_value=1, max_value=10**6))
def test_raising_any_rate_never_lowers_the_fee(
    card: RateCardData, request: Usage, tier: str, what: str, by: int
) -> None:
    before = suggest(card, request, price_tier=tier)
    after = suggest(raised(card, request, what, by), request, price_tier=tier)
    assert before is not None and after is not None
    assert after.fee >= before.fee
