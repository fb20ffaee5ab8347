"""The licence, publicly and for its holder: the verification page (and its JSON), and the
licensed copy and certificate, which leave the portal only while the licence is active."""

import re
from datetime import timedelta

from flask import Response, abort, current_app, jsonify, render_template, request
from sqlalchemy import select

from portal import db as database
from portal import security_events
from portal.db import utcnow
from portal.errors import render_error
from portal.licences.certificate import certificate_pdf, scope_lines, term_text
from portal.licences.models import Licence, check_codes_match
from portal.licences.services import licence_of
from portal.licensing.forms import RepublishForm
from portal.licensing.models import RepublishRequest
from portal.public import throttle
from portal.public.requester import copy_for, private, request_by_token_or_404, verify_url

_NUMBER = re.compile(r"LIC-\d{4}-\d{6}")

#: why a licence's copy is not served, as its holder reads it
NOT_ACTIVE = {
    "suspended": "Your licence is suspended while the payment for it is disputed. The "
                 "licensed copy and the certificate are not available until it is restored.",
    "revoked": "Your licence is revoked, so the licensed copy and the certificate are no "
               "longer available. Please take down any copy you published under it.",
    "expired": "Your licence has ended, so the licensed copy and the certificate are no "
               "longer available. You can ask to renew it.",
}


def _active_licence_or_refuse(token: str, number: str) -> Licence:
    """The holder's licence, or a page saying why its copy is not available."""
    req: RepublishRequest = request_by_token_or_404(token)
    licence = licence_of(database.session(), req)
    if licence is None or licence.number != number:
        abort(404)
    if not licence.is_active:
        security_events.note("forbidden", target=licence.number,
                             detail=f"download refused: the licence is {licence.shown_status}")
        body, status = render_error(
            403, NOT_ACTIVE.get(licence.shown_status, "This licence is not active."))
        abort(private(Response(body, status)))
    return licence


def _download(licence: Licence, body: str | bytes, mimetype: str, filename: str) -> Response:
    security_events.note(
        "certificate_downloaded" if filename.endswith(".pdf") else "copy_downloaded",
        target=licence.number, detail=f"{filename} ({len(body)} bytes)")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return private(response)


def copy_html(token: str, number: str) -> Response:
    licence = _active_licence_or_refuse(token, number)
    return _download(licence, copy_for(licence).html, "text/html", f"{licence.number}.html")


def copy_text(token: str, number: str) -> Response:
    licence = _active_licence_or_refuse(token, number)
    return _download(licence, copy_for(licence).text, "text/plain", f"{licence.number}.txt")


def certificate(token: str, number: str) -> Response:
    licence = _active_licence_or_refuse(token, number)
    pdf = certificate_pdf(licence, publisher=current_app.config["PUBLISHER_NAME"],
                          verify_url=verify_url(licence))
    return _download(licence, pdf, "application/pdf", f"{licence.number}.pdf")


#: compared against when the number is unknown, so both answers take as long
_NO_CODE = "0000-0000"


def _checked_licence(number: str) -> Licence | None:
    """The licence, if the request names its number and its check code (`?code=`). Numbers
    are sequential; without the code an existing licence answers as an unknown one does.
    A code that opens nothing (wrong, or for a number never issued) counts against the client
    address and the number (throttle.check_code_limits); no code at all costs nothing."""
    code = request.args.get("code", "")
    licence = None
    if _NUMBER.fullmatch(number):
        licence = database.session().scalar(select(Licence).where(Licence.number == number))
    matches = check_codes_match(licence.check_code if licence else _NO_CODE, code)
    if licence is not None and matches:
        return licence
    if code.strip():
        throttle.mark_code_wrong()
    return None


def public_record(licence: Licence) -> dict[str, object]:
    """What anyone may know of a licence: no names, addresses, fees or payments."""
    article = licence.article
    return {
        "number": licence.number,
        "status": licence.shown_status,
        "licensee": licence.licensee,
        "article": {"title": article.title, "url": article.canonical_url},
        "scope": {label.lower(): value for label, value in scope_lines(licence)},
        "term": {"starts_on": licence.starts_on.isoformat(),
                 "ends_on": licence.ends_on.isoformat() if licence.ends_on else None,
                 "text": term_text(licence)},
        "terms_version": licence.terms.version,
        "issued_on": licence.issued_at.date().isoformat(),
        "publisher": current_app.config["PUBLISHER_NAME"],
    }


@throttle.check_code_limits
def verify(number: str) -> Response:
    licence = _checked_licence(number)
    if licence is None:
        # The same page for an unknown number and a wrong or missing code: how to verify.
        return Response(render_template(
            "public/licence_lookup.html", number=number,
            well_formed=bool(_NUMBER.fullmatch(number)),
            tried="code" in request.args), 404)
    response = Response(render_template("public/licence_verify.html", licence=licence,
                                        record=public_record(licence)))
    # The address carries the check code: not sent on to the article's site.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@throttle.check_code_limits
def verify_json(number: str) -> Response:
    licence = _checked_licence(number)
    if licence is None:
        response = jsonify({"error": "not found"})
        response.status_code = 404
    else:
        response = jsonify(public_record(licence))
    response.headers["Access-Control-Allow-Origin"] = "*"
    # The address carries the check code: not sent on to other sites.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def renew(token: str) -> str:
    """The request form for the same article, filled in from the earlier request; the new
    term starts the day after the old one ends."""
    req = request_by_token_or_404(token)
    licence = licence_of(database.session(), req)
    if licence is None:
        abort(404)
    form = RepublishForm(formdata=None, obj=req)
    today = utcnow().date()
    form.start_date.data = max(today, licence.ends_on + timedelta(days=1)) \
        if licence.ends_on else today
    return render_template("public/republish_form.html", article=req.article, form=form,
                           renewal_of=licence)
