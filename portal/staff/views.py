"""The back office's request pages: the queue, one request, and the decisions taken on it.

Views validate, call one licensing service, and turn its errors into a message: an action the
request's state does not allow, or a page that went stale, is a 409; bad input is a 422.
"""

from datetime import UTC, datetime, time

from flask import current_app, render_template, request

from portal import db as database
from portal.licensing import queue, services, usage
from portal.licensing.forms import (
    ApproveFreeForm,
    DeclineForm,
    NoteForm,
    QuoteForm,
    RequestInfoForm,
)
from portal.licensing.ratecard import load_rate_card
from portal.money import MoneyError, parse_amount
from portal.staff.auth import current_staff, role_required
from portal.staff.models import StaffRole
from portal.staff.pages import (
    Page,
    act,
    decline_templates,
    detail,
    invalid,
    request_or_404,
    suggestion_for,
)
from portal.workflows import decisions


@role_required(StaffRole.VIEWER)
def queue_page() -> str:
    """The back office's home: every request, the oldest waiting first."""
    filters = queue.QueueFilters.from_args(request.args)
    page = queue.load_page(database.session(), filters)
    return render_template("staff/queue.html", page=page, filters=filters,
                           now=datetime.now(UTC), media=usage.MEDIA,
                           organisation_types=usage.ORGANISATION_TYPES)














@role_required(StaffRole.VIEWER)
def request_detail(reference: str) -> Page:
    return detail(request_or_404(reference))






@role_required(StaffRole.LICENSING)
def quote(reference: str) -> Page:
    req = request_or_404(reference)
    form = QuoteForm(currencies=current_app.config["CURRENCIES"])
    if not form.validate():
        return invalid(req, "quote_form", form)
    try:
        fee = parse_amount(form.amount.data, form.currency.data)
    except MoneyError as error:
        form.amount.errors = [str(error)]
        return invalid(req, "quote_form", form)
    suggestion = suggestion_for(req, load_rate_card(database.session()))
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
    return act(req, "quote_form", form,
                lambda: decisions.quote(database.session(), req.id, offer, actor=staff.actor,
                                        expected_version=form.version.data),
                f"Quote sent to {req.requester_email}.")


@role_required(StaffRole.LICENSING)
def approve_free(reference: str) -> Page:
    req = request_or_404(reference)
    form = ApproveFreeForm()
    if not form.validate():
        return invalid(req, "approve_form", form)
    staff = current_staff()
    return act(req, "approve_form", form,
                lambda: decisions.approve_free(database.session(), req.id, actor=staff.actor,
                                               note=form.note.data or None,
                                               expected_version=form.version.data),
                "Approved free of charge; the requester has been told.")


@role_required(StaffRole.LICENSING)
def decline(reference: str) -> Page:
    req = request_or_404(reference)
    form = DeclineForm(templates=decline_templates())
    if not form.validate():
        return invalid(req, "decline_form", form)
    staff = current_staff()
    return act(req, "decline_form", form,
                lambda: decisions.decline(database.session(), req.id, actor=staff.actor,
                                          reason=form.text, expected_version=form.version.data),
                "Request declined; the requester has been told why.")


@role_required(StaffRole.LICENSING)
def request_info(reference: str) -> Page:
    req = request_or_404(reference)
    form = RequestInfoForm()
    if not form.validate():
        return invalid(req, "info_form", form)
    staff = current_staff()
    return act(req, "info_form", form,
                lambda: services.request_info(database.session(), req, actor=staff.actor,
                                              question=form.question.data,
                                              expected_version=form.version.data),
                "Question sent to the requester.")


@role_required(StaffRole.LICENSING)
def add_note(reference: str) -> Page:
    req = request_or_404(reference)
    form = NoteForm()
    if not form.validate():
        return invalid(req, "note_form", form)
    staff = current_staff()
    return act(req, "note_form", form,
                lambda: services.add_note(database.session(), req, actor=staff.actor,
                                          body=form.body.data),
                "Note added.")

