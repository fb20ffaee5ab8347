"""The buyer's side of payment: pay (again), the pages the provider sends the buyer back
to (which confirm with the provider), the invoice PDF, and the demo provider's clearly
labelled test payment page."""

import re
from datetime import timedelta

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from portal import db as database
from portal.db import utcnow
from portal.forms import PortalForm
from portal.licences.services import licence_of
from portal.licensing.lifecycle import RequestState
from portal.payments.demo import is_open
from portal.payments.invoice_pdf import invoice_pdf
from portal.payments.models import DemoCheckout, Payment, PaymentProvider, PaymentStatus
from portal.payments.provider import ProviderError
from portal.payments.services import latest_payment, payment_by_ref, payment_by_return_key
from portal.public.requester import (
    private,
    request_by_token_or_404,
    requester_acts,
    return_urls,
    status_token_for,
)
from portal.uow import attempt, explain
from portal.workflows import checkout

RETURN_PAGE_REFRESH_FOR = timedelta(minutes=15)
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def pay(token: str) -> Response:
    """Pay the accepted quote: back to the open checkout, or a new one."""
    return requester_acts(token, "pay_form", PortalForm(),
                          lambda fresh: checkout.start_payment(
                              database.session(), fresh.id, return_urls=return_urls),
                          "Your invoice is below.")


def _check_with_provider(payment: Payment) -> None:
    """Ask the provider about an open checkout; a failure only means "look again later"."""
    if payment.status != PaymentStatus.OPEN or payment.provider == PaymentProvider.INVOICE:
        return
    db = database.session()
    try:
        checkout.check_return(db, payment.id)
    except ProviderError as error:
        db.rollback()
        current_app.logger.info("fetch-back of payment %s failed: %s", payment.id,
                                error.message)
    except Exception as error:  # noqa: BLE001 - a webhook applied it at the same moment
        db.rollback()
        if explain(error) is None:
            raise
    db.expire_all()


def _outcome_page(payment: Payment, token: str | None) -> BaseResponse:
    """Where the request stands after the provider: the status page when this browser
    knows it, else a page of its own (nothing private on it)."""
    req = payment.request
    db = database.session()
    if req.state == RequestState.LICENSED:
        licence = licence_of(db, req)
        if licence is not None and licence.is_active:
            flash(f"Your payment is confirmed and your licence {licence.number} is issued.",
                  "success")
        if token is not None:
            return redirect(url_for("public.request_status", token=token), code=303)
    elif payment.provider == PaymentProvider.INVOICE and token is not None:
        return redirect(url_for("public.request_status", token=token), code=303)
    elif payment.status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
        flash("Your payment did not go through and nothing was charged. You can try again "
              "from your request page.", "error")
        if token is not None:
            return redirect(url_for("public.request_status", token=token), code=303)
    # The page looks again by itself for a quarter of an hour; a bank payment that takes
    # days to clear is reported by e-mail instead.
    refresh = (payment.status == PaymentStatus.OPEN
               and utcnow() - payment.created_at < RETURN_PAGE_REFRESH_FOR)
    return private(Response(render_template("public/payment_return.html", req=req,
                                             payment=payment, token=token, refresh=refresh)))


def payment_return(token: str) -> BaseResponse:
    """The status page's own "check my payment" address: asks the provider, then shows
    where the request stands."""
    req = request_by_token_or_404(token)
    payment = latest_payment(database.session(), req)
    if payment is None:
        flash("There is no payment on this request yet.", "error")
        return redirect(url_for("public.request_status", token=token), code=303)
    _check_with_provider(payment)
    return _outcome_page(payment, token)


def _payment_by_key_or_404(key: str) -> Payment:
    payment = payment_by_return_key(database.session(), key) if _KEY.fullmatch(key) else None
    if payment is None:
        abort(404)
    return payment


def checkout_return(key: str) -> BaseResponse:
    """Where the provider sends the buyer after paying. Arriving here proves nothing: the
    page asks the provider, and only what the provider reports moves the request on."""
    payment = _payment_by_key_or_404(key)
    _check_with_provider(payment)
    return _outcome_page(payment, status_token_for(payment))


def checkout_cancelled(key: str) -> BaseResponse:
    """The buyer left the provider's page without paying."""
    payment = _payment_by_key_or_404(key)
    token = status_token_for(payment)
    flash("You left the payment page; nothing was charged. You can pay whenever you are "
          "ready while the quote is valid.", "info")
    if token is not None:
        return redirect(url_for("public.request_status", token=token), code=303)
    return _outcome_page(payment, None)


def invoice(token: str, number: str) -> Response:
    req = request_by_token_or_404(token)
    payment = payment_by_ref(database.session(), PaymentProvider.INVOICE, number)
    if payment is None or payment.request_id != req.id:
        abort(404)
    response = Response(invoice_pdf(payment), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    return private(response)


# -- The demo provider's test payment page --------------------------------------------------

def _demo_checkout_or_404(ref: str) -> tuple[DemoCheckout, Payment]:
    if current_app.config["ENV"] == "production" or len(ref) > 64:
        abort(404)
    db = database.session()
    found = db.get(DemoCheckout, ref)
    payment = payment_by_ref(db, PaymentProvider.DEMO, ref)
    if found is None or payment is None:
        abort(404)
    return found, payment


def demo_checkout(ref: str) -> Response:
    found, payment = _demo_checkout_or_404(ref)
    return private(Response(render_template(
        "public/demo_checkout.html", checkout=found, payment=payment,
        is_open=is_open(found), form=PortalForm())))


def demo_checkout_act(ref: str, outcome: str) -> BaseResponse:
    """The test buyer pays (or fails to), then goes where the checkout says, as Stripe
    sends the buyer to the checkout's success address."""
    _demo_checkout_or_404(ref)
    if outcome not in ("pay", "fail"):
        abort(404)
    form = PortalForm()
    if not form.validate():
        abort(400)
    next_url: list[str] = []
    failure = attempt(lambda: next_url.append(
        checkout.demo_outcome(database.session(), ref, outcome)))
    if failure is not None:
        flash(failure[1], "error")
        return redirect(url_for("payments.demo_checkout", ref=ref), code=303)
    if outcome == "fail":
        flash("The test payment failed, as you asked. Nothing was charged.", "error")
    return redirect(next_url[0] or url_for("payments.demo_checkout", ref=ref), code=303)
