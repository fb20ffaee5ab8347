"""The rate card in the back office: everyone on staff reads it and tries examples, only
admins change it, bad input changes nothing, and `demo load` seeds it once."""

import re
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.licensing import usage
from portal.licensing.pricing import DIMENSIONS, RateCardData
from portal.licensing.ratecard import (
    RateCard,
    RateFactor,
    default_rate_card,
    load_rate_card,
    seed_default_rate_card,
)
from portal.staff.models import StaffRole
from portal.staff.ratecard_views import card_form_values, rate_field_name
from tests.staff_fixtures import StaffLogin

URL = "/staff/rate-card"
EVERY_ROLE = list(StaffRole)


@pytest.fixture
def app_overrides() -> dict[str, object]:
    # JPY too, to check amounts against the currency an admin picks.
    return {"CURRENCIES": ["GBP", "EUR", "USD", "JPY"]}


@pytest.fixture
def card(db: Session) -> RateCardData:
    seed_default_rate_card(db, "GBP")
    db.commit()
    data = load_rate_card(db)
    assert data is not None
    return data


def stored(db: Session) -> tuple[RateCardData | None, str | None]:
    """The card as the database has it now, and who changed it last."""
    db.expire_all()
    row = db.scalars(select(RateCard)).first()
    return load_rate_card(db), row.updated_by if row else None


def csrf_token(client: FlaskClient) -> str:
    page = client.get(URL).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def answers(**changes: str) -> dict[str, Any]:
    """The edit form as the page fills it in for the default card, with `changes`."""
    values = {name: str(value) for name, value in
              card_form_values(default_rate_card("GBP")).items()}
    values.pop("autoquote_enabled")  # an unticked box sends nothing
    return values | changes


def save(client: FlaskClient, **changes: str) -> Any:
    return client.post(URL, data={**answers(**changes), "csrf_token": csrf_token(client)})


def error_of(page: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.DOTALL)
    assert match, f"a message next to {field}"
    return match.group(1)


# Reading

@pytest.mark.parametrize("role", EVERY_ROLE)
def test_every_staff_role_reads_the_card(
    client: FlaskClient, staff_login: StaffLogin, card: RateCardData, role: StaffRole
) -> None:
    staff_login(role)
    response = client.get(URL)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "by the system." in page
    for heading in ("Settings", "Base fee by medium", "Organisation type", "Audience per month",
                    "Territory", "Term", "Portion of the article"):
        assert f">{heading}</h2>" in page
    editable = role == StaffRole.ADMIN
    assert ('method="post" action="/staff/rate-card"' in page) is editable
    if editable:
        assert 'id="medium__website"' in page and 'value="200.00"' in page
        for dimension, (_, codes) in DIMENSIONS.items():
            for code in codes:
                name = rate_field_name(dimension, code)
                assert f'<label for="{name}">' in page, name
    else:
        assert "£200.00" in page and "× 0.5" in page


def test_before_any_card_exists_the_admin_starts_from_the_defaults(
    client: FlaskClient, staff_login: StaffLogin, db: Session
) -> None:
    user = staff_login(StaffRole.ADMIN)
    page = client.get(URL).get_data(as_text=True)
    assert "There is no rate card yet" in page
    assert save(client).status_code == 303
    assert stored(db) == (default_rate_card("GBP"), user.actor)


# Changing

@pytest.mark.parametrize("role", [StaffRole.VIEWER, StaffRole.LICENSING])
def test_only_admins_change_the_card(
    client: FlaskClient, staff_login: StaffLogin, db: Session, card: RateCardData,
    role: StaffRole,
) -> None:
    staff_login(role)
    response = save(client, medium__website="999.00")
    assert response.status_code == 403
    assert stored(db) == (card, "system")


def test_an_admin_changes_the_card(
    client: FlaskClient, staff_login: StaffLogin, db: Session, card: RateCardData
) -> None:
    user = staff_login(StaffRole.ADMIN)
    response = save(client, medium__website="210.50", organisation_type__non_profit="0.45",
                    premium_factor="1,75", minimum="40", rounding="2.50",
                    autoquote_enabled="y", autoquote_max="300", quote_validity_days="14",
                    organisation_type__alien="5")
    assert response.status_code == 303
    assert response.headers["Location"] == URL
    page = client.get(URL).get_data(as_text=True)
    assert "Rate card saved." in page
    assert f"by {user.email}." in page

    now, by = stored(db)
    assert by == user.actor
    assert now is not None
    assert now.base_fees["website"] == 210_50
    assert now.factors["organisation_type"]["non_profit"] == 450
    assert (now.premium_factor_permille, now.minimum_minor, now.rounding_minor) == (
        1750, 40_00, 2_50)
    assert (now.autoquote_enabled, now.autoquote_max_minor, now.quote_validity_days) == (
        True, 300_00, 14)
    # a rate for an answer the request form does not offer is never stored
    assert "alien" not in now.factors["organisation_type"]
    # everything not changed is as it was
    assert now.base_fees["book"] == card.base_fees["book"]
    assert now.factors["term"] == card.factors["term"]


def test_an_admin_switches_to_a_zero_decimal_currency(
    client: FlaskClient, staff_login: StaffLogin, db: Session, card: RateCardData
) -> None:
    staff_login(StaffRole.ADMIN)
    # the same figures, now read as whole yen
    response = save(client, currency="JPY", **{
        name: value.removesuffix(".00") for name, value in answers().items()
        if value.endswith(".00")})
    assert response.status_code == 303
    now, _ = stored(db)
    assert now is not None
    assert (now.currency, now.base_fees["website"], now.rounding_minor) == ("JPY", 200, 5)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("medium__website", "-5", "Amounts cannot be negative."),
    ("medium__website", "", "Please give the amount as a number"),
    ("medium__book", "99999999999", "Please keep this at or under £999,999.99."),
    ("minimum", "fifty", "Please give the amount as a number"),
    ("minimum", "52", "The minimum fee must be a whole number of rounding steps (£5.00)."),
    ("rounding", "0", "Please give at least £0.01."),
    ("translation_surcharge", "12.345", "GBP amounts have at most 2 decimal places."),
    ("autoquote_max", "1e3", "Please give the amount as a number"),
    ("organisation_type__non_profit", "0", "A factor must be above 0"),
    ("territory__worldwide", "-1.5", "A factor cannot be negative."),
    ("term__perpetual", "101", "Please keep factors at or under 100."),
    ("audience_band__under_10k", "0.0005", "Please use at most three decimal places"),
    ("portion__excerpt", "half", "Please give the factor as a number"),
    ("premium_factor", "<b>2</b>", "Please give the factor as a number"),
    ("quote_validity_days", "0", "Please give a number from 1 to 180."),
    ("quote_validity_days", "forever", "Not a valid integer value."),
    ("currency", "XXX", "Please choose one of GBP, EUR, USD, JPY."),
    ("currency", "gbp", "Please choose one of GBP, EUR, USD, JPY."),
])
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_stored(
    client: FlaskClient, staff_login: StaffLogin, db: Session, card: RateCardData,
    field: str, value: str, message: str,
) -> None:
    staff_login(StaffRole.ADMIN)
    # a good change alongside: it must not be stored either
    response = save(client, **{"medium__print": "333.00", field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in error_of(page, field)
    assert "Nothing was saved" in page
    assert "<b>2</b>" not in page
    assert stored(db) == (card, "system")


def test_amounts_are_read_in_the_currency_chosen(
    client: FlaskClient, staff_login: StaffLogin, db: Session, card: RateCardData
) -> None:
    staff_login(StaffRole.ADMIN)
    response = save(client, currency="JPY", medium__website="200.50")
    assert response.status_code == 422
    assert "JPY amounts have at most 0 decimal places." in error_of(
        response.get_data(as_text=True), "medium__website")
    assert stored(db) == (card, "system")


def test_a_post_without_its_csrf_token_is_refused(
    client: FlaskClient, staff_login: StaffLogin, db: Session, card: RateCardData
) -> None:
    staff_login(StaffRole.ADMIN)
    assert client.post(URL, data=answers(medium__website="1.00")).status_code == 400
    assert stored(db) == (card, "system")


# The worked example

EXAMPLE = {"medium": "website", "organisation_type": "non_profit", "audience_band": "100k_1m",
           "territory": "region", "term": "one_year", "portion": "excerpt",
           "language": "translation", "price_tier": "standard"}


def test_the_example_shows_the_breakdown(
    client: FlaskClient, staff_login: StaffLogin, card: RateCardData
) -> None:
    staff_login(StaffRole.VIEWER)
    page = client.get(URL, query_string=EXAMPLE).get_data(as_text=True)
    # 200.00 × 0.5 × 1.5 × 1.5 × 1 × 0.6 = 135.00; + 50.00 translation = 185.00
    for what, amount in [("Base fee: Website", "£200.00"),
                         ("Organisation: Non-profit or NGO", "× 0.5"),
                         ("Audience: 100,000 to 1 million", "× 1.5"),
                         ("Territory: A region", "× 1.5"),
                         ("Term: One year", "× 1"),
                         ("Portion: Excerpt", "× 0.6"),
                         ("Translation surcharge", "+ £50.00"),
                         ("Rounded to £5.00 steps", "£185.00")]:
        assert f'<tr><td>{what}</td><td class="num">{amount}</td></tr>' in page, what
    assert '<th class="num">£185.00</th>' in page
    assert "Auto-quote is off" in page


def test_the_example_of_a_premium_and_a_not_for_sale_article(
    client: FlaskClient, staff_login: StaffLogin, card: RateCardData
) -> None:
    staff_login(StaffRole.VIEWER)
    premium = client.get(URL, query_string=EXAMPLE | {"price_tier": "premium"})
    # 135.00 × 1.5 = 202.50; + 50.00 = 252.50 -> rounded half-up to 255.00
    assert '<th class="num">£255.00</th>' in premium.get_data(as_text=True)
    not_for_sale = client.get(URL, query_string=EXAMPLE | {"price_tier": "not_for_sale"})
    assert "Not for sale" in not_for_sale.get_data(as_text=True)


def test_an_example_with_an_unknown_answer_says_which(
    client: FlaskClient, staff_login: StaffLogin, card: RateCardData
) -> None:
    staff_login(StaffRole.VIEWER)
    response = client.get(URL, query_string=EXAMPLE | {"medium": "spaceship"})
    assert response.status_code == 422
    assert "Not a valid choice" in error_of(response.get_data(as_text=True), "medium")


# Seeding

def test_demo_load_seeds_the_card_once(runner: FlaskCliRunner, db: Session) -> None:
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "Rate card in GBP" in result.output
    first, by = stored(db)
    assert (first, by) == (default_rate_card("GBP"), "system")

    # an admin's change survives loading the demo again
    db.scalars(select(RateFactor).where(RateFactor.code == "website")).one().value = 1
    db.commit()
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    again, _ = stored(db)
    assert again is not None and again.base_fees["website"] == 1
    assert db.scalar(select(func.count()).select_from(RateCard)) == 1
    every_code = sum(len(codes) for _, codes in DIMENSIONS.values())
    assert db.scalar(select(func.count()).select_from(RateFactor)) == every_code


def test_seeding_adds_a_rate_for_a_new_usage_answer_only(
    db: Session, card: RateCardData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(usage.TERMS, "ten_years", "Ten years")
    seed_default_rate_card(db, "EUR")
    db.commit()
    now, _ = stored(db)
    assert now is not None
    assert now.currency == "GBP"  # the existing card keeps its currency
    assert now.factors["term"] == card.factors["term"] | {"ten_years": 1000}
