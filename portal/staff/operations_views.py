"""The operations page (admins): the outbox at a glance, messages failing for now, and the
ones given up, each with "Send again".

Putting a message back in the queue changes no request; it is logged with who did it. A
message that is not (or no longer) given up is refused with a 409 and the page as it now is.
"""

import logging

from flask import abort, current_app, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from portal import db as database
from portal.db import utcnow
from portal.notifications.health import failing_emails
from portal.notifications.models import OutboxEmail
from portal.notifications.sender import NotRequeued, failed_emails, requeue_failed
from portal.staff.auth import current_staff, role_required
from portal.staff.models import StaffRole
from portal.staff.operations import alert_after, current_mail_health
from portal.uow import unit_of_work

log = logging.getLogger(__name__)

Page = str | tuple[str, int] | Response
#: rows shown per table; the page says how many more there are
SHOWN = 100


def _page(status: int = 200) -> tuple[str, int]:
    db = database.session()
    return render_template(
        "staff/operations.html", health=current_mail_health(), alert_after=alert_after(),
        failing=failing_emails(db, limit=SHOWN), dead=failed_emails(db, limit=SHOWN),
        give_up_hours=current_app.config["OUTBOX_GIVE_UP_AFTER_HOURS"],
    ), status


@role_required(StaffRole.ADMIN)
def operations_page() -> Page:
    return _page()


def _requeue(email_ids: list[int] | None) -> list[OutboxEmail]:
    db = database.session()
    with unit_of_work(db):
        requeued = requeue_failed(db, email_ids, now=utcnow())
    log.info("%s put e-mail back in the queue: %s", current_staff().actor,
             ", ".join(str(email.id) for email in requeued) or "none")
    return requeued


@role_required(StaffRole.ADMIN)
def retry_mail(email_id: int) -> Page:
    db = database.session()
    # The URL converter takes any number of digits; ids are 32-bit integers in the database.
    email = db.get(OutboxEmail, email_id) if 0 < email_id < 2**31 else None
    if email is None:
        abort(404)
    try:
        _requeue([email.id])
    except NotRequeued as error:
        flash(str(error), "error")
        return _page(409)
    flash(f"The e-mail “{email.subject}” to {email.to_address} is back in the queue: it goes "
          "out with the outbox's next pass.", "success")
    return redirect(url_for("staff.operations"), code=303)


@role_required(StaffRole.ADMIN)
def retry_all_mail() -> Page:
    try:
        requeued = _requeue(None)
    except NotRequeued as error:
        flash(str(error), "error")
        return _page(409)
    if requeued:
        count = len(requeued)
        flash(f"{count} e-mail{'s are' if count != 1 else ' is'} back in the queue: "
              f"{'they go' if count != 1 else 'it goes'} out with the outbox's next pass.",
              "success")
    else:
        flash("There was no given-up e-mail to send again.", "success")
    return redirect(url_for("staff.operations"), code=303)
