"""The back office's readership page of one licence: views counted by its tracking image."""

from flask import abort, render_template
from sqlalchemy import select

from portal import db as database
from portal.licences.models import Licence
from portal.licences.tracking import FOLD_WINDOW, readership_summary
from portal.staff.auth import role_required
from portal.staff.models import StaffRole


@role_required(StaffRole.VIEWER)
def licence_views(number: str) -> str:
    if len(number) > 32:
        abort(404)
    session = database.session()
    licence = session.scalar(select(Licence).where(Licence.number == number))
    if licence is None:
        abort(404)
    return render_template("staff/licence_views.html", licence=licence,
                           summary=readership_summary(session, licence),
                           fold_minutes=int(FOLD_WINDOW.total_seconds() // 60))
