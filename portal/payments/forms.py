"""Staff's payment forms: refund, record an invoice's bank transfer, choose how to pay."""

from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import HiddenInput

from portal.forms import PortalForm
from portal.licensing.forms import _long_text, _strip, _text


def _amount(label: str) -> StringField:
    return StringField(
        label, validators=[DataRequired(message="Please give the amount."),
                           Length(max=20, message="Please give the amount as a number.")],
        filters=[_strip], render_kw={"inputmode": "decimal", "autocomplete": "off"})


class RefundForm(PortalForm):
    payment_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    amount = _amount("Amount to refund")
    reason = _long_text("Reason (kept in the timeline and told to the buyer)", 1000,
                        required="Please give the reason for the refund.")


class InvoicePaidForm(PortalForm):
    payment_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    amount = _amount("Amount received")
    reference = _text("Bank reference of the transfer", 200)


class PaymentMethodForm(PortalForm):
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    method = SelectField("How this request is paid", choices=[
        SelectChoice("", "The portal's payment provider"),
        SelectChoice("invoice", "Invoice and bank transfer (institutions)"),
    ], validate_choice=True)
