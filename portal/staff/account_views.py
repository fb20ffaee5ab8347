"""A staff member's own account: changing the password while signed in, the "forgot your
password?" way back in (a single-use link by e-mail), and two-factor sign-in (enrol with a QR
code, recovery codes, turn off). The rules are in portal/staff/passwords.py and
two_factor.py; the limits here keep guessing and mail-bombing out."""

import logging

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, logout_user
from limits import parse_many
from werkzeug.wrappers import Response

from portal import db as database
from portal import security_events
from portal.extensions import limiter
from portal.staff import auth, passwords, two_factor
from portal.staff.account_forms import (
    ChangePasswordForm,
    ConfirmPasswordForm,
    EnableTwoFactorForm,
    ForgotPasswordForm,
    NewPasswordForm,
)
from portal.staff.models import StaffRole, StaffUser
from portal.uow import unit_of_work

log = logging.getLogger(__name__)

WRONG_CURRENT = "That is not your current password."
#: the one answer to "forgot your password?", whether or not the address has an account
LINK_SENT = ("If {email} is the address of a staff account, we have sent it a link to choose "
             "a new password. The link works once, within {minutes} minutes. Nothing there? "
             "Check the spam folder, or ask an administrator of the licensing desk.")


def _setting(key: str) -> str:
    return str(current_app.config[key])


def _change_key() -> str:
    # Anonymous visitors never reach the view (role_required sends them to sign in); an
    # empty key makes Flask-Limiter skip the limit for them.
    return f"staff:{current_user.id}" if current_user.is_authenticated else ""


def _wrong_current(response: Response) -> bool:
    return response.status_code == 401


@auth.role_required(StaffRole.VIEWER)
@limiter.limit(lambda: _setting("STAFF_LOGIN_RATE_LIMIT_ACCOUNT"), key_func=_change_key,
               methods=["POST"], scope="password-change", deduct_when=_wrong_current)
def change_password() -> Response | str | tuple[str, int]:
    """Current password and the new one twice; other sessions of the account end (this one
    stays)."""
    form = ChangePasswordForm()
    if request.method == "GET":
        return render_template("staff/password_change.html", form=form)
    if not form.validate():
        return render_template("staff/password_change.html", form=form), 422
    user = auth.current_staff()
    if not auth.verify_password(user, form.current_password.data or ""):
        # Counted like a failed sign-in: a borrowed session cannot be used to guess it.
        security_events.note("password_check_failed", target=user.email,
                             detail="on the password change page")
        form.current_password.errors = [WRONG_CURRENT]
        return render_template("staff/password_change.html", form=form), 401
    with unit_of_work() as db:
        ended = passwords.set_password(db, user, form.new_password.data or "",
                                       keep_session=current_user.get_id())
        security_events.record(db, "password_changed", target=user.email,
                               detail=f"{ended} other session{'' if ended == 1 else 's'} ended")
    log.info("staff:%s changed their password; ended %d other sessions", user.id, ended)
    flash("Your password has been changed. Any other sessions of your account have ended."
          if ended else "Your password has been changed.", "success")
    return redirect(url_for("staff.queue"), code=303)


def _mail_allowed(email: str) -> bool:
    """At most STAFF_PASSWORD_RESET_EMAIL_LIMIT links to one address: past it the answer is
    the same, and nothing is sent. A store that cannot be reached lets it through."""
    try:
        items = parse_many(_setting("STAFF_PASSWORD_RESET_EMAIL_LIMIT"))
        return all([limiter.limiter.hit(item, "staff-reset-mail", email) for item in items])
    except Exception:  # noqa: BLE001 (Redis down must not stop a reset)
        log.exception("rate-limit store unavailable; reset e-mail not counted")
        return True


@limiter.limit(lambda: _setting("STAFF_PASSWORD_RESET_RATE_LIMIT"), key_func=get_remote_address,
               methods=["POST"], scope="password-forgot")
def forgot_password() -> Response | str | tuple[str, int]:
    form = ForgotPasswordForm()
    if request.method == "GET":
        return render_template("staff/password_forgot.html", form=form)
    if not form.validate():
        return render_template("staff/password_forgot.html", form=form), 422
    email = auth.normalise_email(form.email.data or "")
    if _mail_allowed(email):
        with unit_of_work() as db:
            sent = passwords.send_reset_link(db, email)
            security_events.record(
                db, "password_reset_requested", target=email,
                detail="link sent" if sent else "no active account: nothing sent")
        if sent:
            log.info("password reset link queued for %r from %s", email, request.remote_addr)
    flash(LINK_SENT.format(email=email, minutes=passwords.reset_minutes()), "info")
    return redirect(url_for("staff.login"), code=303)


def reset_password(token: str) -> Response | str | tuple[str, int]:
    """The e-mailed link: a new password twice. It ends every session of the account."""
    db = database.session()
    user = passwords.user_for_reset(db, token)
    if user is None:
        return render_template("staff/password_link_expired.html",
                               minutes=passwords.reset_minutes()), 410
    form = NewPasswordForm()
    if request.method == "GET":
        return render_template("staff/password_reset.html", form=form, user=user)
    if not form.validate():
        return render_template("staff/password_reset.html", form=form, user=user), 422
    with unit_of_work(db):
        ended = passwords.set_password(db, user, form.new_password.data or "")
        security_events.record(db, "password_reset", actor=user.actor, target=user.email,
                               detail=f"by e-mailed link; {ended} session"
                                      f"{'' if ended == 1 else 's'} ended")
    log.info("staff:%s reset their password by e-mail; ended %d sessions", user.id, ended)
    if current_user.is_authenticated:
        logout_user()
    session.clear()
    flash("Your new password is set, and every session of your account has ended. Sign in "
          "with the new password.", "success")
    return redirect(url_for("staff.login"), code=303)


#: the session key of the secret being enrolled (it becomes the account's once a code checks)
ENROLLING = "staff_2fa_enrolling"
#: what an admin may still open before turning two-factor sign-in on, when it is required
OPEN_BEFORE_TWO_FACTOR = {"staff.two_factor", "staff.logout", "staff.login", "staff.login_code",
                          "staff.forgot_password", "staff.reset_password", "static"}


def require_two_factor() -> Response | None:
    """(before each back-office request) With STAFF_2FA=required, an admin without two-factor
    sign-in is sent to turn it on before anything else."""
    if not current_user.is_authenticated or request.endpoint in OPEN_BEFORE_TWO_FACTOR:
        return None
    user = auth.current_staff()
    if two_factor.is_required(user) and not two_factor.is_enabled(user):
        flash("Administrators must use two-factor sign-in. Turn it on to continue.", "info")
        return redirect(url_for("staff.two_factor"), code=303)
    return None


def _two_factor_page(user: StaffUser, status: int = 200, **context: object
                     ) -> tuple[str, int]:
    if not two_factor.is_enabled(user):
        secret = session.get(ENROLLING) or two_factor.new_secret()
        session[ENROLLING] = secret
        uri = two_factor.provisioning_uri(user, secret)
        context.update(secret=secret, qr=two_factor.qr_data_uri(uri))
    context.setdefault("enable_form", EnableTwoFactorForm())
    context.setdefault("disable_form", ConfirmPasswordForm())
    return render_template(
        "staff/two_factor.html", user=user, enabled=two_factor.is_enabled(user),
        required=two_factor.is_required(user), left=two_factor.recovery_codes_left(user),
        **context), status


@auth.role_required(StaffRole.VIEWER)
@limiter.limit(lambda: _setting("STAFF_LOGIN_RATE_LIMIT_ACCOUNT"), key_func=_change_key,
               methods=["POST"], scope="two-factor", deduct_when=_wrong_current)
def two_factor_page() -> Response | str | tuple[str, int]:
    """Turn two-factor sign-in on (scan, type a code: recovery codes shown once), make new
    recovery codes, or turn it off (with the password; not when it is required)."""
    user = auth.current_staff()
    if request.method == "GET":
        return _two_factor_page(user)
    action = request.form.get("action")
    if action == "enable" and not two_factor.is_enabled(user):
        form = EnableTwoFactorForm()
        if not form.validate():
            return _two_factor_page(user, 422, enable_form=form)
        secret = str(session.get(ENROLLING) or "")
        with unit_of_work() as db:
            codes = two_factor.enable(user, secret, form.code.data or "") if secret else None
            if codes is not None:
                security_events.record(db, "two_factor_on", target=user.email)
        if codes is None:
            form.code.errors = ["That code does not match. Check the app's clock, and type "
                                "the code it shows now."]
            return _two_factor_page(user, 422, enable_form=form)
        session.pop(ENROLLING, None)
        log.info("staff:%s turned on two-factor sign-in", user.id)
        return _two_factor_page(user, codes=codes)
    if action in ("disable", "new_codes") and two_factor.is_enabled(user):
        form = ConfirmPasswordForm()
        if not form.validate():
            return _two_factor_page(user, 422, disable_form=form)
        if not auth.verify_password(user, form.password.data or ""):
            security_events.note("password_check_failed", target=user.email,
                                 detail="on the two-factor page")
            form.password.errors = [WRONG_CURRENT]
            return _two_factor_page(user, 401, disable_form=form)
        if action == "new_codes":
            with unit_of_work():
                codes = two_factor.new_recovery_codes(user)
            return _two_factor_page(user, codes=codes)
        if two_factor.is_required(user):
            flash("Administrators must keep two-factor sign-in on.", "error")
            return redirect(url_for("staff.two_factor"), code=303)
        with unit_of_work() as db:
            two_factor.disable(user)
            security_events.record(db, "two_factor_off", target=user.email)
        log.info("staff:%s turned off two-factor sign-in", user.id)
        flash("Two-factor sign-in is off. Signing in now needs only your password.", "success")
        return redirect(url_for("staff.two_factor"), code=303)
    return redirect(url_for("staff.two_factor"), code=303)
