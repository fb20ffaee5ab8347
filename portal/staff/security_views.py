"""The security log page (admins): who signed in or failed to, what was refused, which
licensed copies and certificates were downloaded, what changed in staff, rates, rights and
terms. Read-only: nothing in the log can be changed or removed."""

from flask import render_template, request

from portal import db as database
from portal.security_events import CATEGORIES, KINDS
from portal.staff.auth import role_required
from portal.staff.models import StaffRole
from portal.staff.security_log import LogFilters, load_page


@role_required(StaffRole.ADMIN)
def security_log() -> tuple[str, int]:
    filters = LogFilters.from_args(request.args)
    page = load_page(database.session(), filters)
    return render_template("staff/security_log.html", filters=filters, page=page,
                           categories=CATEGORIES, kinds=KINDS), 200
