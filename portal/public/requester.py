"""What the requester's pages share (not views): finding a request by its status token,
keeping those pages private, the licensed copy's links, and sending the buyer to a
provider's checkout and back without the token ever reaching the provider."""

from collections.abc import Callable
from datetime import timedelta
from typing import NoReturn

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from portal import db as database
from portal.db import utcnow
from portal.forms import PortalForm
from portal.licences.copy import LicensedCopy, build_copy
from portal.licences.models import Licence
from portal.licences.services import licence_of
from portal.licensing import services
from portal.licensing.forms import (
    AcceptQuoteForm,
    AnswerForm,
    DeclineQuoteForm,
    NewLinkForm,
    WithdrawForm,
)
from portal.licensing.lifecycle import QuoteStatus, allowed_actions
from portal.licensing.models import RepublishRequest
from portal.payments.models import Payment, PaymentProvider
from portal.payments.services import ReturnUrls, latest_payment, method_for, new_return_key
from portal.public import throttle
from portal.uow import attempt
from portal.urls import link

#: the browser session remembers which status page a checkout was started from, so the
#: return from the provider leads back there (the provider never sees the token)
CHECKOUT_FROM = "checkout_from"


def token_lifetime() -> timedelta:
    return timedelta(days=int(current_app.config["STATUS_TOKEN_DAYS"]))


def request_by_token_or_404(token: str) -> RepublishRequest:
    """The request a live status token opens. A token that opens nothing is a 404 (with the
    way to a new link) and counts against the client's address (throttle.token_misses); an
    expired one is answered with the page that offers a new link (410)."""
    found = services.match_token(database.session(), token, lifetime=token_lifetime())
    if found is None:
        unknown_link()
    if found.is_expired:
        abort(link_expired_page(token, NewLinkForm(formdata=None)))
    return found.request


def unknown_link() -> NoReturn:
    """The 404 of a status link that opens nothing, leading to "Lost your link?"; counted
    against the client's address."""
    throttle.mark_missed()
    abort(private(Response(render_template("public/unknown_link.html"), status=404)))


def link_expired_page(token: str, form: NewLinkForm, *, sent: bool = False,
                      status: int = 410) -> Response:
    return private(Response(render_template(
        "public/link_expired.html", token=token, form=form, sent=sent,
        days=current_app.config["STATUS_TOKEN_DAYS"]), status=status))


def private(response: Response) -> Response:
    """A page or file for whoever holds the status link only: not cached, not indexed, and
    its address (with the token) not sent on to other sites."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def verify_url(licence: Licence) -> str:
    """The public record's address, with the check code that opens it."""
    return link("licences.verify", number=licence.number, code=licence.check_code)


def tracking_url(licence: Licence) -> str:
    return link("tracking.pixel", key=licence.tracking_key)


def copy_for(licence: Licence) -> LicensedCopy:
    return build_copy(licence, publisher=current_app.config["PUBLISHER_NAME"],
                      tracking_url=tracking_url(licence), verify_url=verify_url(licence))


def return_urls() -> ReturnUrls:
    """Where a provider sends the buyer back: addresses with a random key of their own."""
    key = new_return_key()
    return ReturnUrls(key=key, success=link("payments.checkout_return", key=key),
                      cancel=link("payments.checkout_cancelled", key=key))


def checkout_redirect(payment: Payment, token: str) -> BaseResponse:
    """To the provider's checkout page, remembering (in this browser only) the status page
    to come back to."""
    session[CHECKOUT_FROM] = token
    url = payment.checkout_url or url_for("public.request_status", token=token)
    return redirect(url, code=303)


def status_token_for(payment: Payment) -> str | None:
    """The status token this browser started the payment's checkout from, if it did."""
    token = session.get(CHECKOUT_FROM)
    if not isinstance(token, str):
        return None
    req = services.find_by_token(database.session(), token, lifetime=token_lifetime())
    return token if req is not None and req.id == payment.request_id else None


def status_page(req: RepublishRequest, status: int = 200, **forms: object) -> Response:
    context: dict[str, object] = {
        "accept_form": AcceptQuoteForm(formdata=None),
        "decline_quote_form": DeclineQuoteForm(formdata=None),
        "withdraw_form": WithdrawForm(formdata=None),
        "answer_form": AnswerForm(formdata=None),
    }
    context.update(forms)
    db = database.session()
    licence = licence_of(db, req)
    quote = req.current_quote
    context.update(
        # Validity is checked as the page is read: a quote past it offers no "Accept and
        # pay", even before the expiry job has moved the request on.
        quote_open=quote is not None and quote.status == QuoteStatus.OPEN
        and quote.valid_until > utcnow(),
        payment=latest_payment(db, req),
        licence=licence,
        licensed_copy=copy_for(licence) if licence is not None and licence.is_active else None,
        method=method_for(req, current_app.config["PAYMENT_PROVIDER"]).value,
        pay_form=PortalForm(formdata=None),
    )
    return private(Response(render_template("public/request_status.html", req=req,
                                            allowed=allowed_actions(req.state),
                                            **context), status=status))


def requester_acts(token: str, form_name: str, form: PortalForm,
                   act: Callable[[RepublishRequest], object], done: str) -> Response:
    """Validate, run one service for the requester, commit, and come back to the page
    (or go on to the payment page the service returned)."""
    req = request_by_token_or_404(token)
    if not form.validate():
        return status_page(req, 422, **{form_name: form})
    outcome: list[object] = []
    failure = attempt(lambda: outcome.append(act(req)))
    if failure is not None:
        status, message = failure
        flash(message, "error")
        # An expired quote cannot be accepted: that is a conflict with the page, too.
        return status_page(request_by_token_or_404(token), 409 if status == 422 else status)
    payment = outcome[0] if outcome else None
    if isinstance(payment, Payment) and payment.provider != PaymentProvider.INVOICE \
            and payment.checkout_url:
        # To the provider's checkout page (Stripe's, or the demo's test page).
        return checkout_redirect(payment, token)
    flash(done, "success")
    return redirect(url_for("public.request_status", token=token), code=303)
