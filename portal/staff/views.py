"""The back office's request pages: the queue, one request, and the decisions taken on it.

Views validate, call one licensing service, and turn its errors into a message: an action the
request's state does not allow, or a page that went stale, is a 409; bad input is a 422.
"""

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import db as database
from portal.licensing import queue, services, usage
from portal.licensing.actions import commit_or_explain
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
from portal.money import MoneyError, parse_amount
from portal.staff.auth import current_staff, role_required
from portal.staff.blueprint import bp
from portal.staff.models import StaffRole, StaffUser

Page = str | tuple[str, int] | Response
#: how long a quote stays open when no rate card says otherwise
DEFAULT_VALIDITY_DAYS = 30


@bp.get("/", endpoint="queue")
@role_required(StaffRole.VIEWER)
def queue_page() -> str:
    """The back office's home: every request, the oldest waiting first."""
    filters = queue.QueueFilters.from_args(request.args)
    page = queue.load_page(database.session(), filters)
    return render_template("staff/queue.html", page=page, filters=filters,
                           now=datetime.now(UTC), media=usage.MEDIA,
                           organisation_types=usage.ORGANISATION_TYPES)


def _request_or_404(reference: str) -> RepublishRequest:
    if len(reference) > 32:
        abort(404)
    found = database.session().scalar(
        select(RepublishRequest).where(RepublishRequest.reference == reference)
    )
    if found is None:
        abort(404)
    return found


def _decline_templates() -> dict[str, str]:
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
        "decline_form": DeclineForm(formdata=None, templates=_decline_templates(),
                                    version=req.version),
        "info_form": RequestInfoForm(formdata=None, version=req.version),
        "note_form": NoteForm(formdata=None),
    }


def _suggestion(req: RepublishRequest, card: RateCardData | None) -> Suggestion | None:
    if card is None:
        return None
    return suggest(card, req, price_tier=req.article.price_tier)


def _detail(req: RepublishRequest, status: int = 200, **forms: object) -> tuple[str, int]:
    card = load_rate_card(database.session())
    suggestion = _suggestion(req, card)
    context = _forms(req, card, suggestion)
    from portal.staff.payment_views import payment_context

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


@bp.get("/requests/<reference>")
@role_required(StaffRole.VIEWER)
def request_detail(reference: str) -> Page:
    return _detail(_request_or_404(reference))


def _act(req: RepublishRequest, form_name: str, form: object,
         action: Callable[[], object], done: str | Callable[[], tuple[str, str]]) -> Page:
    """Run one decision and commit, or show the page again with what went wrong. `done` is
    the message, or says (message, category) once the decision is made."""
    failure = commit_or_explain(database.session(), action)
    if failure is not None:
        status, message = failure
        flash(message, "error")
        reloaded = _request_or_404(req.reference)
        return _detail(reloaded, status, **({form_name: form} if status == 422 else {}))
    text, category = done() if callable(done) else (done, "success")
    flash(text, category)
    return redirect(url_for("staff.request_detail", reference=req.reference), code=303)


def _invalid(req: RepublishRequest, form_name: str, form: object) -> tuple[str, int]:
    flash("Please check the form below.", "error")
    return _detail(req, 422, **{form_name: form})


@bp.post("/requests/<reference>/quote")
@role_required(StaffRole.LICENSING)
def quote(reference: str) -> Page:
    req = _request_or_404(reference)
    form = QuoteForm(currencies=current_app.config["CURRENCIES"])
    if not form.validate():
        return _invalid(req, "quote_form", form)
    try:
        fee = parse_amount(form.amount.data, form.currency.data)
    except MoneyError as error:
        form.amount.errors = [str(error)]
        return _invalid(req, "quote_form", form)
    suggestion = _suggestion(req, load_rate_card(database.session()))
    offer = services.QuoteInput(
        fee=fee,
        # The quote holds until the end of its last day, UTC.
        valid_until=datetime.combine(form.valid_until.data, time(23, 59, 59), UTC),
        terms_note=form.terms_note.data,
        suggested=suggestion.fee if suggestion else None,
        breakdown=suggestion.lines if suggestion else None,
        override_reason=form.override_reason.data,
    )
    staff = current_staff()
    return _act(req, "quote_form", form,
                lambda: services.quote(database.session(), req, offer, actor=staff.actor,
                                       expected_version=form.version.data),
                f"Quote sent to {req.requester_email}.")


@bp.post("/requests/<reference>/approve-free")
@role_required(StaffRole.LICENSING)
def approve_free(reference: str) -> Page:
    req = _request_or_404(reference)
    form = ApproveFreeForm()
    if not form.validate():
        return _invalid(req, "approve_form", form)
    staff = current_staff()
    return _act(req, "approve_form", form,
                lambda: services.approve_free(database.session(), req, actor=staff.actor,
                                              note=form.note.data or None,
                                              expected_version=form.version.data),
                "Approved free of charge; the requester has been told.")


@bp.post("/requests/<reference>/decline")
@role_required(StaffRole.LICENSING)
def decline(reference: str) -> Page:
    req = _request_or_404(reference)
    form = DeclineForm(templates=_decline_templates())
    if not form.validate():
        return _invalid(req, "decline_form", form)
    staff = current_staff()
    return _act(req, "decline_form", form,
                lambda: services.decline(database.session(), req, actor=staff.actor,
                                         reason=form.text, expected_version=form.version.data),
                "Request declined; the requester has been told why.")


@bp.post("/requests/<reference>/request-info")
@role_required(StaffRole.LICENSING)
def request_info(reference: str) -> Page:
    req = _request_or_404(reference)
    form = RequestInfoForm()
    if not form.validate():
        return _invalid(req, "info_form", form)
    staff = current_staff()
    return _act(req, "info_form", form,
                lambda: services.request_info(database.session(), req, actor=staff.actor,
                                              question=form.question.data,
                                              expected_version=form.version.data),
                "Question sent to the requester.")


@bp.post("/requests/<reference>/note")
@role_required(StaffRole.LICENSING)
def add_note(reference: str) -> Page:
    req = _request_or_404(reference)
    form = NoteForm()
    if not form.validate():
        return _invalid(req, "note_form", form)
    staff = current_staff()
    return _act(req, "note_form", form,
                lambda: services.add_note(database.session(), req, actor=staff.actor,
                                          body=form.body.data),
                "Note added.")

