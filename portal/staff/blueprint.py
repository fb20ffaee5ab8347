"""The back office's one blueprint ("staff", under /staff/); view modules add routes to it."""

from typing import Any

from flask import Blueprint, current_app

from portal.staff.models import StaffRole

bp = Blueprint("staff", __name__, url_prefix="/staff")

#: the back office's menu: (endpoint, text, the least role that sees it)
NAVIGATION = (
    ("staff.queue", "Requests", StaffRole.VIEWER),
    ("staff.rate_card", "Rate card", StaffRole.VIEWER),
    ("staff.articles", "Articles", StaffRole.ADMIN),
    ("staff.decline_templates", "Decline reasons", StaffRole.ADMIN),
    ("staff.users", "Staff", StaffRole.ADMIN),
)


@bp.context_processor
def navigation() -> dict[str, Any]:
    routes = current_app.view_functions
    return {"staff_nav": [item for item in NAVIGATION if item[0] in routes]}
