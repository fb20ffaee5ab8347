"""The back office's payment actions on a request: refund, mark an invoice paid, and let an
institution pay by invoice. Thin views over portal.workflows."""

from flask import abort, flash

from portal import db as database
from portal.licensing.models import RepublishRequest
from portal.licensing.services import Conflict
from portal.money import MoneyError, parse_amount
from portal.payments.forms import InvoicePaidForm, PaymentMethodForm, RefundForm
from portal.payments.models import Payment, PaymentProvider
from portal.staff.auth import current_staff, role_required
from portal.staff.models import StaffRole
from portal.staff.pages import Page, act, detail, invalid, request_or_404
from portal.workflows import confirmation, decisions


def _payment_of(req: RepublishRequest, payment_id: int | None) -> Payment:
    payment = database.session().get(Payment, payment_id) if payment_id else None
    if payment is None or payment.request_id != req.id:
        abort(404)
    return payment


@role_required(StaffRole.LICENSING)
def refund(reference: str) -> Page:
    req = request_or_404(reference)
    form = RefundForm()
    if not form.validate():
        return invalid(req, "refund_form", form)
    payment = _payment_of(req, form.payment_id.data)
    try:
        amount = parse_amount(form.amount.data, payment.paid_currency or payment.currency)
    except MoneyError as error:
        form.amount.errors = [str(error)]
        return invalid(req, "refund_form", form)
    staff = current_staff()
    payment_id = payment.id
    return act(req, "refund_form", form,
               lambda: confirmation.refund(database.session(), payment_id, amount.minor,
                                           actor=staff.actor, reason=form.reason.data,
                                           key=form.key.data),
               f"Refunded {amount}; the buyer has been told.")


@role_required(StaffRole.LICENSING)
def invoice_paid(reference: str) -> Page:
    req = request_or_404(reference)
    form = InvoicePaidForm()
    if not form.validate():
        return invalid(req, "invoice_form", form)
    payment = _payment_of(req, form.payment_id.data)
    try:
        amount = parse_amount(form.amount.data, payment.currency)
    except MoneyError as error:
        form.amount.errors = [str(error)]
        return invalid(req, "invoice_form", form)
    staff = current_staff()
    payment_id = payment.id

    def outcome() -> tuple[str, str]:
        paid = database.session().get(Payment, payment_id)
        assert paid is not None
        if paid.problem:
            return (f"The transfer for invoice {paid.provider_ref} is recorded, but nothing "
                    f"was released: {paid.problem}.", "error")
        return f"Invoice {paid.provider_ref} marked paid; the licence is issued.", "success"

    return act(req, "invoice_form", form,
               lambda: confirmation.record_invoice_payment(
                   database.session(), payment_id, amount, reference=form.reference.data,
                   actor=staff.actor),
               outcome)


@role_required(StaffRole.LICENSING)
def payment_method(reference: str) -> Page:
    req = request_or_404(reference)
    form = PaymentMethodForm()
    if not form.validate():
        return invalid(req, "method_form", form)
    if form.version.data != req.version:
        flash(str(Conflict()), "error")
        return detail(req, 409)
    method = PaymentProvider(form.method.data) if form.method.data else None
    staff = current_staff()
    return act(req, "method_form", form,
               lambda: decisions.set_payment_method(database.session(), req.id, method,
                                                    actor=staff.actor,
                                                    expected_version=form.version.data),
               "Payment method saved.")
