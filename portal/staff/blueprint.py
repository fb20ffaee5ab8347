"""The back office's one blueprint ("staff", under /staff/), as a table of contents: every
back-office route and the view that answers it."""

from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.wrappers import Response

from portal.staff import (
    account_views,
    admin_views,
    auth_views,
    licence_views,
    operations_views,
    payment_views,
    ratecard_views,
    security_views,
    views,
)
from portal.staff.models import StaffRole
from portal.staff.operations import mail_warning

bp = Blueprint("staff", __name__, url_prefix="/staff")

# views
bp.add_url_rule('/', 'queue', views.queue_page, methods=['GET'])
bp.add_url_rule('/requests/<reference>', 'request_detail', views.request_detail, methods=['GET'])
bp.add_url_rule('/requests/<reference>/quote', 'quote', views.quote, methods=['POST'])
bp.add_url_rule('/requests/<reference>/approve-free', 'approve_free', views.approve_free, methods=['POST'])
bp.add_url_rule('/requests/<reference>/decline', 'decline', views.decline, methods=['POST'])
bp.add_url_rule('/requests/<reference>/request-info', 'request_info', views.request_info, methods=['POST'])
bp.add_url_rule('/requests/<reference>/note', 'add_note', views.add_note, methods=['POST'])
# payment views
bp.add_url_rule('/requests/<reference>/refund', 'refund', payment_views.refund, methods=['POST'])
bp.add_url_rule('/requests/<reference>/invoice-paid', 'invoice_paid', payment_views.invoice_paid, methods=['POST'])
bp.add_url_rule('/requests/<reference>/payment-method', 'payment_method', payment_views.payment_method, methods=['POST'])
# licence views
bp.add_url_rule('/licences/<number>/views', 'licence_views', licence_views.licence_views, methods=['GET'])
# ratecard views
bp.add_url_rule('/rate-card', 'rate_card', ratecard_views.rate_card, methods=['GET'])
bp.add_url_rule('/rate-card', 'rate_card_save', ratecard_views.rate_card_save, methods=['POST'])
# admin views
bp.add_url_rule('/users', 'users', admin_views.users_page, methods=['GET'])
bp.add_url_rule('/users', 'add_user', admin_views.add_user, methods=['POST'])
bp.add_url_rule('/users/<int:user_id>/role', 'change_role', admin_views.change_role, methods=['POST'])
bp.add_url_rule('/users/<int:user_id>/deactivate', 'deactivate_user', admin_views.deactivate_user, methods=['POST'])
bp.add_url_rule('/users/<int:user_id>/reactivate', 'reactivate_user', admin_views.reactivate_user, methods=['POST'])
bp.add_url_rule('/articles', 'articles', admin_views.articles_page, methods=['GET'])
bp.add_url_rule('/articles/<int:article_id>', 'article_rights', admin_views.article_rights, methods=['GET'])
bp.add_url_rule('/articles/<int:article_id>', 'save_article_rights', admin_views.save_article_rights, methods=['POST'])
bp.add_url_rule('/articles/<int:article_id>/withdraw', 'withdraw_article', admin_views.withdraw_article, methods=['POST'])
bp.add_url_rule('/decline-templates', 'decline_templates', admin_views.decline_templates_page, methods=['GET'])
bp.add_url_rule('/decline-templates', 'add_decline_template', admin_views.add_decline_template, methods=['POST'])
bp.add_url_rule('/decline-templates/<int:template_id>', 'edit_decline_template', admin_views.edit_decline_template, methods=['POST'])
bp.add_url_rule('/decline-templates/<int:template_id>/delete', 'delete_decline_template', admin_views.delete_decline_template, methods=['POST'])
# operations views
bp.add_url_rule('/operations', 'operations', operations_views.operations_page, methods=['GET'])
bp.add_url_rule('/operations/mail/<int:email_id>/retry', 'retry_mail', operations_views.retry_mail, methods=['POST'])
bp.add_url_rule('/operations/mail/retry-all', 'retry_all_mail', operations_views.retry_all_mail, methods=['POST'])
bp.add_url_rule('/security-log', 'security_log', security_views.security_log, methods=['GET'])
# auth views
bp.add_url_rule('/login', 'login', auth_views.login, methods=['GET', 'POST'])
bp.add_url_rule('/logout', 'logout', auth_views.logout, methods=['POST'])
# account views
bp.add_url_rule('/account/password', 'change_password', account_views.change_password, methods=['GET', 'POST'])
bp.add_url_rule('/password/forgot', 'forgot_password', account_views.forgot_password, methods=['GET', 'POST'])
bp.add_url_rule('/password/reset/<token>', 'reset_password', account_views.reset_password, methods=['GET', 'POST'])
bp.add_url_rule('/account/two-factor', 'two_factor', account_views.two_factor_page, methods=['GET', 'POST'])
bp.add_url_rule('/login/code', 'login_code', auth_views.login_code, methods=['GET', 'POST'])
bp.before_request(account_views.require_two_factor)

#: the back office's menu: (endpoint, text, the least role that sees it)
NAVIGATION = (
    ("staff.queue", "Requests", StaffRole.VIEWER),
    ("staff.rate_card", "Rate card", StaffRole.VIEWER),
    ("staff.articles", "Articles", StaffRole.ADMIN),
    ("staff.decline_templates", "Decline reasons", StaffRole.ADMIN),
    ("staff.users", "Staff", StaffRole.ADMIN),
    ("staff.operations", "Operations", StaffRole.ADMIN),
    ("staff.security_log", "Security log", StaffRole.ADMIN),
)


@bp.context_processor
def navigation() -> dict[str, Any]:
    routes = current_app.view_functions
    return {"staff_nav": [item for item in NAVIGATION if item[0] in routes]}


@bp.context_processor
def mail_status() -> dict[str, Any]:
    """`mail_warning()` for the back office's layout: the outbox's health while mail has been
    failing for long or was given up, else None (one aggregate query, run only by pages
    that show it)."""
    return {"mail_warning": mail_warning}


@bp.after_app_request
def never_cache(response: Response) -> Response:
    """Nothing of the back office is kept by a browser or a proxy: its pages show buyers'
    details, and after signing out the Back button must not bring them back. (On the app, not
    the blueprint, so that a 404 under /staff/ is covered too.)"""
    if request.path == "/staff" or request.path.startswith("/staff/"):
        response.headers["Cache-Control"] = "no-store"
    return response
