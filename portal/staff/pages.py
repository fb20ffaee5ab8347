"""What the back office's request pages share (not views): finding a request, rendering
its page with every action's form, and running one decision through the unit of work."""

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import db as database
from portal.licences.services import licence_of
from portal.licensing.forms import (
    ApproveFreeForm,
    DeclineForm,
    NoteForm,
    QuoteForm,
    RequestInfoForm,
)
from portal.licensing.lifecycle import allowed_actions
from portal.licensing.models import DeclineTemplate, RepublishRequest
from portal.licensing.pricing import RateCardData, Suggestion, suggest
from portal.licensing.ratecard import load_rate_card
from portal.payments import services as payments
from portal.payments.forms import InvoicePaidForm, PaymentMethodForm, RefundForm
from portal.staff.models import StaffUser
from portal.uow import attempt

Page = str | tuple[str, int] | Response
#: how long a quote stays open when no rate card says otherwise
DEFAULT_VALIDITY_DAYS = 30


def request_or_404(reference: str) -> RepublishRequest:
    if len(reference) > 32:
        abort(404)
    found = database.session().scalar(
        select(RepublishRequest).where(RepublishRequest.reference == reference)
    )
    if found is None:
        abort(404)
    return found


def decline_templates() -> dict[str, str]:
    rows = database.session().scalars(
        select(DeclineTemplate).order_by(DeclineTemplate.position, DeclineTemplate.title)
    )
    return {row.title: row.body for row in rows}


def _forms(req: RepublishRequest, card: RateCardData | None,
           suggestion: Suggestion | None) -> dict[str, object]:
    """A fresh form for each action, filled with what the page suggests."""
    config = current_app.config
    quote = QuoteForm(formdata=None, currencies=config["CURRENCIES"], version=req.version)
    if suggestion is not None:
        quote.amount.data = str(suggestion.fee.decimal)
        quote.currency.data = suggestion.fee.currency
    quote.valid_until.data = datetime.now(UTC).date() + timedelta(
        days=card.quote_validity_days if card else DEFAULT_VALIDITY_DAYS)
    return {
        "quote_form": quote,
        "approve_form": ApproveFreeForm(formdata=None, version=req.version),
        "decline_form": DeclineForm(formdata=None, templates=decline_templates(),
                                    version=req.version),
        "info_form": RequestInfoForm(formdata=None, version=req.version),
        "note_form": NoteForm(formdata=None),
    }


def suggestion_for(req: RepublishRequest, card: RateCardData | None) -> Suggestion | None:
    if card is None:
        return None
    return suggest(card, req, price_tier=req.article.price_tier)


def detail(req: RepublishRequest, status: int = 200, **forms: object) -> tuple[str, int]:
    card = load_rate_card(database.session())
    suggestion = suggestion_for(req, card)
    context = _forms(req, card, suggestion)
    context.update(payment_context(req))
    context.update(forms)
    timeline = sorted(
        [("event", event.created_at, event) for event in req.events]
        + [("message", message.created_at, message) for message in req.messages],
        key=lambda item: (item[1], 0 if item[0] == "event" else 1),
    )
    names = _actor_names({event.actor for event in req.events}
                         | {message.author for message in req.messages})
    return render_template(
        "staff/request.html", req=req, suggestion=suggestion,
        allowed=allowed_actions(req.state),
        timeline=timeline, now=datetime.now(UTC), actor_name=lambda a: names.get(a, a),
        **context,
    ), status


def _actor_names(actors: set[str]) -> dict[str, str]:
    """Audit actors as people read them: "staff:3" -> the colleague's e-mail address."""
    ids = {int(a.split(":", 1)[1]) for a in actors if a.startswith("staff:")}
    names = {"requester": "Requester", "system": "Portal (automatic)",
             "provider:stripe": "Stripe", "provider:demo": "Demo payment provider",
             "provider:invoice": "Invoice"}
    if ids:
        for user in database.session().scalars(select(StaffUser).where(StaffUser.id.in_(ids))):
            names[user.actor] = user.name or user.email
    return names


def act(req: RepublishRequest, form_name: str, form: object,
         action: Callable[[], object], done: str | Callable[[], tuple[str, str]]) -> Page:
    """Run one decision and commit, or show the page again with what went wrong. `done` is
    the message, or says (message, category) once the decision is made."""
    failure = attempt(action)
    if failure is not None:
        status, message = failure
        flash(message, "error")
        reloaded = request_or_404(req.reference)
        return detail(reloaded, status, **({form_name: form} if status == 422 else {}))
    text, category = done() if callable(done) else (done, "success")
    flash(text, category)
    return redirect(url_for("staff.request_detail", reference=req.reference), code=303)


def invalid(req: RepublishRequest, form_name: str, form: object) -> tuple[str, int]:
    flash("Please check the form below.", "error")
    return detail(req, 422, **{form_name: form})


def payment_context(req: RepublishRequest) -> dict[str, object]:
    """What the request page shows of payments, and the forms to act on them."""
    db = database.session()
    refund_form = RefundForm(formdata=None, key=secrets.token_urlsafe(18))
    invoice_form = InvoicePaidForm(formdata=None)
    method_form = PaymentMethodForm(formdata=None, version=req.version,
                                    method=req.payment_method or "")
    return {"payments": payments.payments_of(db, req), "licence": licence_of(db, req),
            "payment_method": payments.method_for(
                req, current_app.config["PAYMENT_PROVIDER"]).value,
            "refund_form": refund_form, "invoice_form": invoice_form,
            "method_form": method_form}
