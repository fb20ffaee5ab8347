"""The back office's payment actions on a request: refund, mark an invoice paid, and let an
institution pay by invoice. Thin views over portal.payments.services."""

import secrets

from flask import abort, flash

from portal import db as database
from portal.licences.services import licence_of
from portal.licensing.models import RepublishRequest
from portal.licensing.services import Conflict
from portal.money import MoneyError, parse_amount
from portal.payments import services
from portal.payments.forms import InvoicePaidForm, PaymentMethodForm, RefundForm
from portal.payments.models import Payment, PaymentProvider
from portal.staff.auth import current_staff, role_required
from portal.staff.blueprint import bp
from portal.staff.models import StaffRole
from portal.staff.views import Page, _act, _detail, _invalid, _request_or_404


def _payment_of(req: RepublishRequest, payment_id: int | None) -> Payment:
    payment = database.session().get(Payment, payment_id) if payment_id else None
    if payment is None or payment.request_id != req.id:
        abort(404)
    return payment


@bp.post("/requests/<reference>/refund")
@role_required(StaffRole.LICENSING)
def refund(reference: str) -> Page:
    req = _request_or_404(reference)
    form = RefundForm()
    if not form.validate():
        return _invalid(req, "refund_form", form)
    payment = _payment_of(req, form.payment_id.data)
    try:
        amount = parse_amount(form.amount.data, payment.paid_currency or payment.currency)
    except MoneyError as error:
        form.amount.errors = [str(error)]
        return _invalid(req, "refund_form", form)
    staff = current_staff()
    return _act(req, "refund_form", form,
                lambda: services.refund(database.session(), payment, amount.minor,
                                        actor=staff.actor, reason=form.reason.data,
                                        key=form.key.data),
                f"Refunded {amount}; the buyer has been told.")


@bp.post("/requests/<reference>/invoice-paid")
@role_required(StaffRole.LICENSING)
def invoice_paid(reference: str) -> Page:
    req = _request_or_404(reference)
    form = InvoicePaidForm()
    if not form.validate():
        return _invalid(req, "invoice_form", form)
    payment = _payment_of(req, form.payment_id.data)
    try:
        amount = parse_amount(form.amount.data, payment.currency)
    except MoneyError as error:
        form.amount.errors = [str(error)]
        return _invalid(req, "invoice_form", form)
    staff = current_staff()

    def outcome() -> tuple[str, str]:
        if payment.problem:
            return (f"The transfer for invoice {payment.provider_ref} is recorded, but nothing "
                    f"was released: {payment.problem}.", "error")
        return f"Invoice {payment.provider_ref} marked paid; the licence is issued.", "success"

    return _act(req, "invoice_form", form,
                lambda: services.record_invoice_payment(
                    database.session(), payment, amount, reference=form.reference.data,
                    actor=staff.actor),
                outcome)


@bp.post("/requests/<reference>/payment-method")
@role_required(StaffRole.LICENSING)
def payment_method(reference: str) -> Page:
    req = _request_or_404(reference)
    form = PaymentMethodForm()
    if not form.validate():
        return _invalid(req, "method_form", form)
    if form.version.data != req.version:
        flash(str(Conflict()), "error")
        return _detail(req, 409)
    method = PaymentProvider(form.method.data) if form.method.data else None
    staff = current_staff()
    return _act(req, "method_form", form,
                lambda: services.set_payment_method(database.session(), req, method,
                                                    actor=staff.actor),
                "Payment method saved.")


def payment_context(req: RepublishRequest) -> dict[str, object]:
    """What the request page shows of payments, and the forms to act on them."""
    db = database.session()
    payments = services.payments_of(db, req)
    refund_form = RefundForm(formdata=None, key=secrets.token_urlsafe(18))
    invoice_form = InvoicePaidForm(formdata=None)
    method_form = PaymentMethodForm(formdata=None, version=req.version,
                                    method=req.payment_method or "")
    return {"payments": payments, "licence": licence_of(db, req),
            "payment_method": services.method_for(req).value, "refund_form": refund_form,
            "invoice_form": invoice_form, "method_form": method_form}

