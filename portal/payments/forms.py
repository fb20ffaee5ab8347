"""Staff's payment forms: refund, record an invoice's bank transfer, choose how to pay."""

from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp
from wtforms.widgets import HiddenInput

from portal.forms import PortalForm
from portal.licensing.forms import _long_text, _strip, _text


def _amount(label: str, html_id: str) -> StringField:
    # Its own id: the request page carries the quote form's "amount" too.
    return StringField(
        label, validators=[DataRequired(message="Please give the amount."),
                           Length(max=20, message="Please give the amount as a number.")],
        filters=[_strip], render_kw={"inputmode": "decimal", "autocomplete": "off"},
        id=html_id)


def _payment_id() -> IntegerField:
    return IntegerField(widget=HiddenInput(),
                        validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)])


class RefundForm(PortalForm):
    payment_id = _payment_id()
    #: made when the page is shown: the same form sent twice makes one refund
    key = StringField(widget=HiddenInput(), validators=[
        InputRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$", message="Reload the page.")])
    amount = _amount("Amount to refund", "refund-amount")
    reason = _long_text("Reason (kept in the timeline and told to the buyer)", 1000,
                        required="Please give the reason for the refund.", id="refund-reason")


class InvoicePaidForm(PortalForm):
    payment_id = _payment_id()
    amount = _amount("Amount received", "invoice-amount")
    reference = _text("Bank reference of the transfer", 200)


class PaymentMethodForm(PortalForm):
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    method = SelectField("How this request is paid", choices=[
        SelectChoice("", "The portal's payment provider"),
        SelectChoice("invoice", "Invoice and bank transfer (institutions)"),
    ], validate_choice=True)
