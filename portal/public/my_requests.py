""""My requests", without a password: a link mailed to the address typed in lists every
request and licence made with it, and opens each one's status page. Opening it also lets
the next request form start from the last request's details.

The link is signed (the secret key), names the address, and works for MY_REQUESTS_LINK_HOURS;
nothing about it is stored. Asking is limited per client address (as for new status links)
and the mail per address; the answer is the same whether or not the address has requests.
"""

from typing import Any

from flask import Response, current_app, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from portal import db as database
from portal.licences.models import Licence
from portal.licensing import services
from portal.licensing.forms import NewLinkForm
from portal.licensing.models import RepublishRequest
from portal.notifications.outbox import enqueue
from portal.public import throttle
from portal.public.requester import private
from portal.uow import unit_of_work
from portal.urls import link

SALT = "my-requests"
#: the session key of what the next request form starts from
PREFILL = "requester_details"
#: what carries over from one request to the next: who asks, and where they publish
PREFILL_FIELDS = ("requester_name", "requester_email", "organisation", "organisation_type",
                  "country", "vat_id", "publication_name", "publication_url")
#: the most requests the page lists (newest first)
SHOWN = 200


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _hours() -> int:
    return int(current_app.config["MY_REQUESTS_LINK_HOURS"])


def address_of(token: str) -> str | None:
    """The address a link names, while the link is genuine and fresh."""
    if len(token) > 500:
        return None
    try:
        address = _serializer().loads(token, max_age=_hours() * 3600)
    except (BadSignature, SignatureExpired):
        return None
    return address if isinstance(address, str) else None


def _requests_of(address: str) -> list[RepublishRequest]:
    return list(database.session().scalars(
        select(RepublishRequest)
        .where(func.lower(RepublishRequest.requester_email) == address)
        .order_by(RepublishRequest.id.desc()).limit(SHOWN)))


@throttle.new_link_requests
def ask() -> Response | tuple[str, int] | str:
    """GET: the form; POST: mail the link (when the address has requests), same answer."""
    form = NewLinkForm()
    if request.method != "POST":
        return render_template("public/my_requests_ask.html", form=form)
    if not form.validate():
        return render_template("public/my_requests_ask.html", form=form), 422
    address = form.address()
    if _requests_of(address) and throttle.spend_quietly(
            "MY_REQUESTS_EMAIL_LIMIT", "my-requests-email", address):
        with unit_of_work() as db:
            enqueue(db, address, "my_requests_link", address=address, hours=_hours(),
                    page_url=link("public.my_requests_page",
                                  token=_serializer().dumps(address)),
                    ask_url=link("public.my_requests"))
    return render_template("public/my_requests_ask.html", form=NewLinkForm(formdata=None),
                           sent=True)


def page(token: str) -> Response:
    address = address_of(token)
    if address is None:
        return private(Response(render_template(
            "public/my_requests_ask.html", form=NewLinkForm(formdata=None), expired=True,
            hours=_hours()), status=410))
    requests = _requests_of(address)
    licences = {licence.request_id: licence for licence in database.session().scalars(
        select(Licence).where(Licence.request_id.in_([req.id for req in requests])))
    } if requests else {}
    if requests:
        # The address is proven (the link reached it): the next form starts from here.
        remember(_details_of(requests[0]))
    return private(Response(render_template(
        "public/my_requests.html", address=address, requests=requests, licences=licences,
        token=token, hours=_hours())))


def open_request(token: str, reference: str) -> Response:
    """One request's status page, through a status link minted now."""
    address = address_of(token)
    if address is None or len(reference) > 32:
        raise NotFound()
    with unit_of_work() as db:
        req = db.scalar(select(RepublishRequest).where(
            RepublishRequest.reference == reference,
            func.lower(RepublishRequest.requester_email) == address))
        if req is None:
            raise NotFound()
        status_token = services.new_status_token(db, req.id)
    return private(redirect(url_for("public.request_status", token=status_token), code=303))


# -- the next form starts from the last request -----------------------------------------

def _details_of(req: RepublishRequest) -> dict[str, Any]:
    return {name: getattr(req, name) for name in PREFILL_FIELDS}


def remember(details: dict[str, Any]) -> None:
    """Keep who asked (in this browser's signed session cookie) for their next form."""
    session[PREFILL] = {name: details.get(name) for name in PREFILL_FIELDS
                        if isinstance(details.get(name), str | None)}


def prefill(form: Any) -> None:
    """Fill the empty fields of a new request form from this browser's last request."""
    details = session.get(PREFILL)
    if not isinstance(details, dict):
        return
    for name in PREFILL_FIELDS:
        field = getattr(form, name, None)
        value = details.get(name)
        if field is not None and isinstance(value, str) and value and not field.data:
            field.data = value
