"""The public request form: every usage detail, allow-listed, with a message per field.

Forms check the shape of input; services (licensing.services) enforce the rules.
"""

import re
from datetime import date, timedelta
from typing import Any

from email_validator import validate_email
from wtforms import (
    DateField,
    EmailField,
    Field,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from portal.db import utcnow
from portal.forms import PortalForm
from portal.licensing import usage

_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]|&#|javascript:", re.IGNORECASE)
# C0 and C1 controls, and the invisible direction overrides that can disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Every kind of line break: a single-line field ends up in e-mail subjects.
_LINE_BREAK = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]")


class PlainText:
    """Refuses markup and control characters (a text field is text, not HTML)."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form: PortalForm, field: Field) -> None:
        value = field.data or ""
        if _CONTROL.search(value) or (not self.multiline and _LINE_BREAK.search(value)):
            raise ValidationError("Please remove the special characters from this field.")
        if _MARKUP.search(value):
            raise ValidationError("Please write plain text here, without HTML tags or code.")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _choices(mapping: dict[str, str], prompt: str | None = None) -> list[SelectChoice]:
    options = [SelectChoice(value, label) for value, label in mapping.items()]
    return [SelectChoice("", prompt), *options] if prompt else options


def _text(label: str, max_length: int, required: bool = True, **kwargs: Any) -> StringField:
    first = DataRequired(message="Please fill in this field.") if required else Optional()
    return StringField(
        label,
        validators=[first, Length(max=max_length, message=f"Please keep this under {max_length} "
                                                          "characters."), PlainText()],
        filters=[_strip],
        **kwargs,
    )


def _long_text(label: str, max_length: int, required: str | None = None,
               **kwargs: Any) -> TextAreaField:
    """A multi-line plain-text answer; `required` is the message when it is left empty."""
    return TextAreaField(
        label,
        validators=[
            DataRequired(message=required) if required else Optional(),
            Length(max=max_length, message=f"Please keep this under {max_length:,} characters."),
            PlainText(multiline=True),
        ],
        filters=[_strip],
        **kwargs,
    )


def _radio(label: str, mapping: dict[str, str], message: str) -> RadioField:
    return RadioField(
        label,
        choices=_choices(mapping),
        validators=[InputRequired(message=message)],
        validate_choice=True,
    )


def _select(label: str, mapping: dict[str, str], prompt: str, required: bool = True,
            message: str = "Please choose one.") -> SelectField:
    return SelectField(
        label,
        choices=_choices(mapping, prompt),
        validators=[DataRequired(message=message) if required else Optional()],
        validate_choice=True,
    )


class RepublishForm(PortalForm):
    # Requester
    requester_name = _text("Your name", 200, render_kw={"autocomplete": "name"})
    requester_email = EmailField(
        "Your e-mail address",
        validators=[
            DataRequired(message="Please give an e-mail address: the status link goes there."),
            Length(max=320, message="Please keep this under 320 characters."),
            # Not every mail server takes a non-ASCII mailbox name (SMTPUTF8): refuse it here
            # rather than lose the status link later. International domains are fine.
            Email(allow_smtputf8=False,
                  message="Please enter a valid e-mail address, like name@example.com."),
            PlainText(),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "email"},
    )
    organisation = _text("Organisation", 200, render_kw={"autocomplete": "organization"})
    organisation_type = _select(
        "Type of organisation", usage.ORGANISATION_TYPES, "Choose a type",
        message="Please choose the type of organisation.",
    )
    country = SelectField(
        "Country",
        choices=[],
        validators=[DataRequired(message="Please choose your country.")],
        render_kw={"autocomplete": "country"},
    )
    vat_id = StringField(
        "VAT number (optional)",
        validators=[
            Optional(),
            Length(max=32, message="Please keep this under 32 characters."),
            Regexp(r"^[A-Za-z0-9 .\-]+$",
                   message="A VAT number has only letters, digits, spaces, dots and dashes."),
        ],
        filters=[_strip],
    )
    # Use
    medium = _radio("Where will it appear?", usage.MEDIA, "Please choose where it will appear.")
    publication_name = _text("Name of the publication, site or programme", 200)
    publication_url = URLField(
        "Its web address (optional)",
        validators=[
            Optional(),
            Length(max=2000, message="Please keep this under 2,000 characters."),
            URL(require_tld=True, message="Please enter a full web address starting with https://."),
            Regexp(r"^https?://", re.IGNORECASE,
                   message="Please enter a full web address starting with https://."),
            PlainText(),
        ],
        filters=[_strip],
    )
    audience_band = _select(
        "Audience per month (unique visitors, listeners, or print run)",
        usage.AUDIENCE_BANDS, "Choose a range", message="Please choose the size of the audience.",
    )
    territory = _radio("Territory", usage.TERRITORIES, "Please choose where it will be published.")
    territory_country = SelectField("Which country?", choices=[], validators=[Optional()])
    territory_region = _select("Which region?", usage.REGIONS, "Choose a region", required=False)
    language = _radio("Language", usage.LANGUAGE_OPTIONS, "Please choose the language.")
    translation_language = SelectField("Translated into", choices=[], validators=[Optional()])
    portion = _radio("How much of the article?", usage.PORTIONS,
                     "Please choose how much of the article you need.")
    excerpt_words = IntegerField(
        "Excerpt length in words",
        validators=[
            Optional(),
            NumberRange(min=1, max=usage.MAX_EXCERPT_WORDS,
                        message=f"Please give a number from 1 to {usage.MAX_EXCERPT_WORDS:,}."),
        ],
        render_kw={"inputmode": "numeric"},
    )
    term = _radio("For how long?", usage.TERMS, "Please choose how long you need the licence.")
    start_date = DateField(
        "Start date",
        validators=[DataRequired(message="Please give a start date (YYYY-MM-DD).")],
    )
    intended_edits = _long_text("Edits you intend to make (optional)", 2000)
    message = _long_text("Message to the licensing desk (optional)", 4000)
    #: honeypot: hidden from people by CSS; a bot that fills it in is turned away
    website = StringField("Leave this field empty")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        countries = _choices(usage.countries(), "Choose a country")
        self.country.choices = countries
        self.territory_country.choices = countries
        self.translation_language.choices = _choices(usage.languages(), "Choose a language")

    @property
    def is_bot(self) -> bool:
        return bool((self.website.data or "").strip())

    #: (field, the answer that makes it required, its message when missing)
    CONDITIONAL = (
        ("territory_country", ("territory", "country"), "Please choose the country."),
        ("territory_region", ("territory", "region"), "Please choose the region."),
        ("translation_language", ("language", "translation"),
         "Please choose the language of the translation."),
        ("excerpt_words", ("portion", "excerpt"),
         "Please say how many words the excerpt will have."),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        # Optional() stops a field's own checks when it is empty, so the questions that
        # only apply to some answers are checked here, once every field has its data.
        for name, (other, answer), message in self.CONDITIONAL:
            field = self[name]
            if self[other].data == answer and field.data in (None, "") and not field.errors:
                field.errors = [*field.errors, message]
                valid = False
        return valid

    def validate_start_date(self, field: DateField) -> None:
        today = utcnow().date()
        if field.data < today - timedelta(days=1):
            raise ValidationError("The start date cannot be in the past.")
        if field.data > today + timedelta(days=730):
            raise ValidationError("Please choose a start date within the next two years.")

    def usage_details(self) -> dict[str, Any]:
        """The cleaned answers, with the conditional ones dropped when they do not apply."""
        data = {name: self[name].data for name in USAGE_FIELDS}
        if data["territory"] != "country":
            data["territory_country"] = None
        if data["territory"] != "region":
            data["territory_region"] = None
        if data["language"] != "translation":
            data["translation_language"] = None
        if data["portion"] != "excerpt":
            data["excerpt_words"] = None
        for name in ("vat_id", "publication_url", "intended_edits", "message"):
            data[name] = data[name] or None
        if data["vat_id"]:
            data["vat_id"] = data["vat_id"].upper()
        # An international domain is stored in its ASCII (punycode) form, which every mail
        # header and server takes.
        data["requester_email"] = validate_email(
            data["requester_email"], check_deliverability=False, allow_smtputf8=False
        ).ascii_email
        return data


USAGE_FIELDS = (
    "requester_name", "requester_email", "organisation", "organisation_type", "country", "vat_id",
    "medium", "publication_name", "publication_url", "audience_band", "territory",
    "territory_country", "territory_region", "language", "translation_language", "portion",
    "excerpt_words", "term", "start_date", "intended_edits", "message",
)


def default_start_date() -> date:
    return utcnow().date()


# -- Back office: decisions on a request -----------------------------------------------------

class _VersionedForm(PortalForm):
    """Carries the request's version as the page showed it: acting on a stale page is a 409."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class QuoteForm(_VersionedForm):
    amount = StringField(
        "Fee", validators=[DataRequired(message="Please give the fee."),
                           Length(max=20, message="Please give the fee as a number.")],
        filters=[_strip], render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    currency = SelectField("Currency", choices=[], validators=[DataRequired()])
    valid_until = DateField(
        "Valid until", validators=[DataRequired(message="Please give a date (YYYY-MM-DD).")]
    )
    terms_note = _long_text("Licence terms for this quote (optional)", 2000)
    override_reason = _long_text("Reason, if the fee differs from the suggestion", 1000)

    def __init__(self, *args: Any, currencies: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = [SelectChoice(code, code) for code in currencies]


class ApproveFreeForm(_VersionedForm):
    note = _long_text("Note to the requester (optional)", 2000)


class DeclineForm(_VersionedForm):
    template = SelectField("Reason", choices=[], validators=[Optional()])
    reason = _long_text("Message to the requester", 4000)

    def __init__(self, *args: Any, templates: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templates = templates
        self.template.choices = _choices({key: key for key in templates}, "Write your own")

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if valid and not self.template.data and not self.reason.data:
            self.reason.errors = ["Please choose a reason or write one."]
            return False
        return valid

    @property
    def text(self) -> str:
        """The reason the requester reads: the template's text, then any words of our own."""
        parts = [self.templates.get(self.template.data or "", ""), self.reason.data or ""]
        return "\n\n".join(part for part in parts if part)


class RequestInfoForm(_VersionedForm):
    question = _long_text("Question to the requester", 4000, required="Please write the question.")


class NoteForm(PortalForm):
    body = _long_text("Internal note", 4000, required="Please write the note.")


# -- The requester's answers on the status page -------------------------------------------

class AcceptQuoteForm(PortalForm):
    quote_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class DeclineQuoteForm(PortalForm):
    #: the quote the requester saw: a newer one is not declined unseen
    quote_version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    message = _long_text("Tell us why (optional)", 4000)


class WithdrawForm(PortalForm):
    message = _long_text("Tell us why (optional)", 4000)


class AnswerForm(PortalForm):
    body = _long_text("Your answer", 4000, required="Please write your answer.")


class NewLinkForm(PortalForm):
    """"Send me a new link": the address the request was made with."""

    email = EmailField(
        "Your e-mail address",
        validators=[
            DataRequired(message="Please give the e-mail address you made the request with."),
            Length(max=320, message="Please keep this under 320 characters."),
            Email(allow_smtputf8=False,
                  message="Please give an e-mail address like name@example.org."),
        ],
        render_kw={"autocomplete": "email"},
    )

    def address(self) -> str:
        """The address as requests store it (international domains in ASCII), lower-cased
        for comparing."""
        return validate_email(self.email.data or "", check_deliverability=False,
                              allow_smtputf8=False).ascii_email.lower()
