"""The back office's rate card page: every staff member reads the card and tries worked
examples; admins edit every value in one form.

The page's two forms live here with it: the card (amounts parsed by portal.money in the
chosen currency, factors typed as decimals and kept per mille) and the worked example.
"""

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug import Response
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from portal import db as database
from portal.licensing import usage
from portal.licensing.pricing import (
    BASE_DIMENSION,
    DIMENSIONS,
    FACTOR_DIMENSIONS,
    PER_MILLE,
    PRICE_TIERS,
    RateCardData,
    Usage,
    format_factor,
    is_within_autoquote,
    suggest,
)
from portal.licensing.ratecard import (
    SYSTEM_ACTOR,
    current_rate_card,
    default_rate_card,
    load_rate_card,
    save_rate_card,
)
from portal.licensing.services import MAX_QUOTE_VALIDITY_DAYS
from portal.money import Money, MoneyError, parse_amount
from portal.staff.auth import role_required
from portal.staff.models import StaffRole, StaffUser
from portal.uow import unit_of_work

#: the most Stripe takes in one payment in most currencies; no rate of the card goes higher
MAX_AMOUNT_MINOR = 99_999_999
MAX_FACTOR_PERMILLE = 100 * PER_MILLE
_DECIMAL = re.compile(r"^\d{1,12}(?:[.,]\d{1,12})?$")

#: the page's heading of each dimension's table
HEADINGS = {
    BASE_DIMENSION: "Base fee by medium",
    "organisation_type": "Organisation type",
    "audience_band": "Audience per month",
    "territory": "Territory",
    "term": "Term",
    "portion": "Portion of the article",
}


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def rate_field_name(dimension: str, code: str) -> str:
    """The form field of one rate, e.g. "organisation_type__non_profit"."""
    return f"{dimension}__{code}"


class AmountField(StringField):
    """An amount typed in the form's currency; `minor` holds it once it is valid."""

    def __init__(self, label: str, *, least: int = 0, **kwargs: Any) -> None:
        super().__init__(label, filters=[_strip], render_kw={"inputmode": "decimal"}, **kwargs)
        self.least = least
        self.minor: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.minor = None
        currency = form.amount_currency
        text = self.data or ""
        if text.startswith("-"):
            raise ValidationError("Amounts cannot be negative.")
        try:
            amount = parse_amount(text, currency)
        except MoneyError as error:
            raise ValidationError(str(error)) from None
        if amount.minor < self.least:
            raise ValidationError(f"Please give at least {Money(self.least, currency)}.")
        if amount.minor > MAX_AMOUNT_MINOR:
            raise ValidationError(
                f"Please keep this at or under {Money(MAX_AMOUNT_MINOR, currency)}.")
        self.minor = amount.minor


class FactorField(StringField):
    """A multiplier typed as a decimal (1.25); `permille` holds it (1250) once it is valid."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, filters=[_strip], render_kw={"inputmode": "decimal"}, **kwargs)
        self.permille: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.permille = None
        text = self.data or ""
        if text.startswith("-"):
            raise ValidationError("A factor cannot be negative.")
        if not _DECIMAL.match(text):
            raise ValidationError("Please give the factor as a number, like 1 or 1.25.")
        scaled = Decimal(text.replace(",", ".")) * PER_MILLE
        if scaled != scaled.to_integral_value():
            raise ValidationError("Please use at most three decimal places, like 1.125.")
        if scaled <= 0:
            raise ValidationError("A factor must be above 0: to make an answer cheap, use a "
                                  "small one like 0.1.")
        if scaled > MAX_FACTOR_PERMILLE:
            raise ValidationError(
                f"Please keep factors at or under {format_factor(MAX_FACTOR_PERMILLE)}.")
        self.permille = int(scaled)


class RateCardForm(FlaskForm):
    """Every value of the card; one rate field per allow-listed usage answer is added below."""

    currency = SelectField("Currency", choices=[], validate_choice=False)
    minimum = AmountField("Minimum fee")
    rounding = AmountField("Round to steps of", least=1)
    translation_surcharge = AmountField("Translation surcharge")
    premium_factor = FactorField("Premium article factor")
    autoquote_enabled = BooleanField("Auto-quote")
    autoquote_max = AmountField("Auto-quote limit")
    quote_validity_days = IntegerField(
        "Quotes valid for (days)",
        validators=[
            InputRequired(message="Please give a number of days."),
            NumberRange(min=1, max=MAX_QUOTE_VALIDITY_DAYS,
                        message=f"Please give a number from 1 to {MAX_QUOTE_VALIDITY_DAYS}."),
        ],
        render_kw={"inputmode": "numeric"},
    )

    def __init__(self, *args: Any, currencies: list[str], fallback_currency: str,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currencies = currencies
        self.fallback_currency = fallback_currency
        self.currency.choices = [SelectChoice(code, code) for code in currencies]

    @property
    def amount_currency(self) -> str:
        """The currency amounts are read in: the one chosen, when it may be chosen."""
        chosen = self.currency.data
        return chosen if chosen in self.currencies else self.fallback_currency

    def validate_currency(self, field: SelectField) -> None:
        if field.data not in self.currencies:
            raise ValidationError(f"Please choose one of {', '.join(self.currencies)}.")

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        minimum, step = self.minimum.minor, self.rounding.minor
        # Otherwise the minimum fee itself would be off the card's steps.
        if minimum is not None and step is not None and minimum % step:
            message = ("The minimum fee must be a whole number of rounding steps "
                       f"({Money(step, self.amount_currency)}).")
            self.minimum.errors = [*self.minimum.errors, message]
            valid = False
        return valid

    def card_data(self) -> RateCardData:
        """The card as entered (call after validate() said yes)."""
        def amount(name: str) -> int:
            field = self[name]
            assert isinstance(field, AmountField) and field.minor is not None, "not validated"
            return field.minor

        def factor(name: str) -> int:
            field = self[name]
            assert isinstance(field, FactorField) and field.permille is not None, "not validated"
            return field.permille

        return RateCardData(
            currency=self.amount_currency,
            base_fees={code: amount(rate_field_name(BASE_DIMENSION, code))
                       for code in DIMENSIONS[BASE_DIMENSION][1]},
            factors={dimension: {code: factor(rate_field_name(dimension, code))
                                 for code in DIMENSIONS[dimension][1]}
                     for dimension in FACTOR_DIMENSIONS},
            translation_surcharge_minor=amount("translation_surcharge"),
            rounding_minor=amount("rounding"),
            minimum_minor=amount("minimum"),
            premium_factor_permille=factor("premium_factor"),
            autoquote_enabled=bool(self.autoquote_enabled.data),
            autoquote_max_minor=amount("autoquote_max"),
            quote_validity_days=int(self.quote_validity_days.data),
        )


for _dimension, (_, _codes) in DIMENSIONS.items():
    for _code, _label in _codes.items():
        setattr(RateCardForm, rate_field_name(_dimension, _code),
                AmountField(_label) if _dimension == BASE_DIMENSION else FactorField(_label))


def _choice(label: str, mapping: dict[str, str]) -> SelectField:
    return SelectField(label, choices=[SelectChoice(code, text) for code, text in mapping.items()],
                       validate_choice=True)


class ExampleForm(FlaskForm):
    """A worked example: usage answers in, the card's suggestion out."""

    class Meta:
        # It only reads, by GET, so that an example can be bookmarked and shared.
        csrf = False

    medium = _choice("Medium", usage.MEDIA)
    organisation_type = _choice("Organisation type", usage.ORGANISATION_TYPES)
    audience_band = _choice("Audience per month", usage.AUDIENCE_BANDS)
    territory = _choice("Territory", usage.TERRITORIES)
    term = _choice("Term", usage.TERMS)
    portion = _choice("Portion", usage.PORTIONS)
    language = _choice("Language", usage.LANGUAGE_OPTIONS)
    price_tier = _choice("Article's price tier", PRICE_TIERS)

    def usage(self) -> Usage:
        return Usage(medium=self.medium.data, organisation_type=self.organisation_type.data,
                     audience_band=self.audience_band.data, territory=self.territory.data,
                     term=self.term.data, portion=self.portion.data, language=self.language.data)


def _rates_and_amounts(card: RateCardData, amount: Callable[[Money], str],
                       factor: Callable[[int], str]) -> dict[str, str]:
    """Every amount and factor of the card by form field name, written by the two callables."""
    values = {
        "minimum": amount(card.money(card.minimum_minor)),
        "rounding": amount(card.money(card.rounding_minor)),
        "translation_surcharge": amount(card.money(card.translation_surcharge_minor)),
        "autoquote_max": amount(card.money(card.autoquote_max_minor)),
        "premium_factor": factor(card.premium_factor_permille),
    }
    for code, fee in card.base_fees.items():
        values[rate_field_name(BASE_DIMENSION, code)] = amount(card.money(fee))
    for dimension, codes in card.factors.items():
        for code, permille in codes.items():
            values[rate_field_name(dimension, code)] = factor(permille)
    return values


def card_form_values(card: RateCardData) -> dict[str, Any]:
    """The card as the edit form shows it: amounts and factors as plain decimals."""
    return _rates_and_amounts(card, lambda money: str(money.decimal), format_factor) | {
        "currency": card.currency,
        "autoquote_enabled": card.autoquote_enabled,
        "quote_validity_days": card.quote_validity_days,
    }


def _shown_values(card: RateCardData | None) -> dict[str, str]:
    """The card as readers see it: "£200.00", "× 1.5", "On"."""
    if card is None:
        return {}
    shown = _rates_and_amounts(card, Money.format, lambda factor: f"× {format_factor(factor)}")
    return shown | {
        "currency": card.currency,
        "autoquote_enabled": "On" if card.autoquote_enabled else "Off",
        "quote_validity_days": f"{card.quote_validity_days} days",
    }


def _card_form(card: RateCardData | None) -> RateCardForm:
    currencies = current_app.config["CURRENCIES"]
    # Before any card exists, the form starts from the defaults in the first currency.
    shown = card or default_rate_card(currencies[0])
    return RateCardForm(data=card_form_values(shown), currencies=currencies,
                        fallback_currency=shown.currency)


def _who(actor: str) -> str:
    """An audit actor as people know it: a staff member's e-mail address, or "the system"."""
    if actor == SYSTEM_ACTOR:
        return "the system"
    kind, _, number = actor.partition(":")
    user = None
    if kind == "staff" and number.isdigit():
        user = database.session().get(StaffUser, int(number))
    return user.email if user is not None else actor


def _page(card: RateCardData | None, form: RateCardForm, status: int = 200) -> tuple[str, int]:
    card_row = current_rate_card(database.session())
    example = ExampleForm(formdata=request.args)
    suggestion = None
    if request.args:
        if example.validate():
            if card is not None:
                suggestion = suggest(card, example.usage(), price_tier=example.price_tier.data)
        else:
            status = 422
    html = render_template(
        "staff/rate_card.html",
        card=card,
        card_row=card_row,
        changed_by=_who(card_row.updated_by) if card_row else None,
        form=form,
        can_edit=current_user.can(StaffRole.ADMIN),
        shown=_shown_values(card),
        dimensions=DIMENSIONS,
        headings=HEADINGS,
        base_dimension=BASE_DIMENSION,
        rate_field_name=rate_field_name,
        example=example,
        tried=bool(request.args),
        suggestion=suggestion,
        autoquote=card is not None and is_within_autoquote(card, suggestion),
    )
    return html, status


@role_required(StaffRole.VIEWER)
def rate_card() -> tuple[str, int]:
    card = load_rate_card(database.session())
    return _page(card, _card_form(card))


@role_required(StaffRole.ADMIN)
def rate_card_save() -> Response | tuple[str, int]:
    db = database.session()
    card = load_rate_card(db)
    form = _card_form(card)
    if not form.validate_on_submit():
        return _page(card, form, status=422)
    with unit_of_work(db):
        save_rate_card(db, form.card_data(), actor=current_user.actor)
    flash("Rate card saved. New suggestions use it now; quotes already sent keep their fee.",
          "success")
    return redirect(url_for("staff.rate_card"), 303)
