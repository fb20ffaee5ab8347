"""The buyer's side of payment: pay (again), the return page that confirms with the
provider, the invoice PDF, and the demo provider's clearly labelled test payment page."""

import re
from datetime import timedelta
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response as BaseResponse

from portal import db as database
from portal.db import utcnow
from portal.forms import PortalForm
from portal.licences.services import licence_of
from portal.licensing.actions import commit_or_explain
from portal.licensing.lifecycle import RequestState
from portal.payments.demo import DemoProvider, is_open
from portal.payments.invoice_pdf import invoice_pdf
from portal.payments.models import DemoCheckout, Payment, PaymentProvider, PaymentStatus
from portal.payments.provider import ProviderError
from portal.payments.services import (
    latest_payment,
    payment_by_ref,
    provider_actor,
    start_payment,
    sync_payment,
    sync_under_way,
)
from portal.public.views import (
    _request_by_token_or_404,
    _requester_acts,
    payment_urls,
    private,
)

bp = Blueprint("payments", __name__)
RETURN_PAGE_REFRESH_FOR = timedelta(minutes=15)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


def checkout_redirect(payment: Payment, token: str) -> BaseResponse:
    """To the provider's checkout page. The demo provider is told where to send the buyer
    back in the address (the status token is never stored with its checkout)."""
    url = payment.checkout_url or url_for("public.request_status", token=token)
    if payment.provider == PaymentProvider.DEMO:
        url += "?" + urlencode({"back": token})
    return redirect(url, code=303)


@bp.post("/requests/<token>/pay")
def pay(token: str) -> BaseResponse:
    """Pay the accepted quote: back to the open checkout, or a new one."""
    req = _request_by_token_or_404(token)
    db = database.session()
    # First, what became of the checkouts under way (paid a moment ago, with no webhook
    # yet?): applied and kept whatever happens next, so nobody is asked to pay twice.
    commit_or_explain(db, lambda: sync_under_way(db, req))
    return _requester_acts(token, "pay_form", PortalForm(),
                           lambda fresh: start_payment(db, fresh, **payment_urls(token)),
                           "Your invoice is below.")


@bp.get("/requests/<token>/payment")
def payment_return(token: str) -> BaseResponse:
    """Where the provider sends the buyer after paying. Arriving here proves nothing: the
    page asks the provider, and only what the provider reports moves the request on."""
    req = _request_by_token_or_404(token)
    db = database.session()
    payment = latest_payment(db, req)
    if (payment is not None and payment.status == PaymentStatus.OPEN
            and payment.provider != PaymentProvider.INVOICE):
        try:
            sync_payment(db, payment, actor=provider_actor(payment.provider.value))
            db.commit()
        except ProviderError as error:
            db.rollback()
            current_app.logger.info("fetch-back of payment %s failed: %s", payment.id,
                                    error.message)
        except (StaleDataError, IntegrityError, OperationalError):
            db.rollback()  # a webhook applied it at the same moment: read what it did
        db.expire_all()
    if req.state == RequestState.LICENSED:
        licence = licence_of(db, req)
        if licence is not None and licence.is_active:
            flash(f"Your payment is confirmed and your licence {licence.number} is issued.",
                  "success")
        return redirect(url_for("public.request_status", token=token), code=303)
    if payment is not None and payment.provider == PaymentProvider.INVOICE:
        return redirect(url_for("public.request_status", token=token), code=303)
    if payment is None or payment.status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
        flash("Your payment did not go through and nothing was charged. You can try again "
              "below." if payment is not None else "There is no payment on this request yet.",
              "error")
        return redirect(url_for("public.request_status", token=token), code=303)
    # The page looks again by itself for a quarter of an hour; a bank payment that takes
    # days to clear is reported by e-mail instead.
    refresh = (payment.status == PaymentStatus.OPEN
               and utcnow() - payment.created_at < RETURN_PAGE_REFRESH_FOR)
    return private(Response(render_template("public/payment_return.html", req=req,
                                             payment=payment, token=token, refresh=refresh)))


@bp.get("/requests/<token>/invoice/<number>.pdf")
def invoice(token: str, number: str) -> Response:
    req = _request_by_token_or_404(token)
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
    checkout = db.get(DemoCheckout, ref)
    payment = payment_by_ref(db, PaymentProvider.DEMO, ref)
    if checkout is None or payment is None:
        abort(404)
    return checkout, payment


@bp.get("/payments/demo/<ref>")
def demo_checkout(ref: str) -> Response:
    checkout, payment = _demo_checkout_or_404(ref)
    back = request.args.get("back", "")
    return private(Response(render_template(
        "public/demo_checkout.html", checkout=checkout, payment=payment,
        is_open=is_open(checkout), form=PortalForm(),
        back=back if _TOKEN.fullmatch(back) else "")))


@bp.post("/payments/demo/<ref>/<outcome>")
def demo_checkout_act(ref: str, outcome: str) -> BaseResponse:
    """The test buyer pays (or fails to). The portal then learns of it the way it learns
    of a Stripe payment: by fetching the checkout from the provider and applying it."""
    checkout, payment = _demo_checkout_or_404(ref)
    if outcome not in ("pay", "fail"):
        abort(404)
    form = PortalForm()
    if not form.validate():
        abort(400)
    db = database.session()
    demo = DemoProvider(db)

    def act() -> None:
        demo.pay(ref) if outcome == "pay" else demo.fail(ref)
        sync_payment(db, payment, actor=provider_actor("demo"))

    failure = commit_or_explain(db, act)
    if failure is not None:
        flash(failure[1], "error")
        return redirect(url_for("payments.demo_checkout", ref=ref), code=303)
    if outcome == "fail":
        flash("The test payment failed, as you asked. Nothing was charged.", "error")
    back = request.form.get("back", "")
    if not _TOKEN.fullmatch(back):
        return redirect(url_for("payments.demo_checkout", ref=ref), code=303)
    # Back to the portal, as Stripe sends the buyer to the checkout's success URL.
    return redirect(url_for("payments.payment_return", token=back), code=303)
