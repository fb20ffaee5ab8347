"""The back office's door: the sign-in form (failed attempts throttled per address and per
account, a known device counted apart) and signing out. Where to go after signing in is
checked here (safe_next)."""

import logging
import time
import unicodedata
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from portal import db as database
from portal import security_events
from portal.extensions import limiter
from portal.staff import auth, known_device, two_factor
from portal.staff.models import StaffRole, StaffUser
from portal.uow import unit_of_work

log = logging.getLogger(__name__)

#: the one answer to a wrong password, an unknown address and a deactivated account alike
SIGN_IN_FAILED = "Wrong e-mail address or password."
BACK_OFFICE_PREFIX = "/staff/"
WRONG_CODE = "That code is not right, or was used already. Type the code your app shows now."
#: the session key of a sign-in waiting for its second factor, and how long it waits
PENDING = "staff_2fa_pending"
PENDING_SECONDS = 300


class SignInForm(FlaskForm):
    email = EmailField(
        "E-mail address",
        validators=[InputRequired("Enter your e-mail address."), Length(max=320)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[InputRequired("Enter the code from your app."), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "none",
                   "spellcheck": "false"},
    )


def _is_invisible(char: str) -> bool:
    """Control and format characters, and every whitespace but the plain space."""
    return unicodedata.category(char).startswith("C") or (char.isspace() and char != " ")


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path inside the back office on this site, else None.

    Browsers drop tabs and newlines from addresses, read a backslash as a slash and resolve
    ".." (also when written %2e%2e), so any of those could turn an innocent-looking path
    into another site or another part of this one: such targets are refused outright.
    """
    if not target or len(target) > 2000 or not target.startswith(BACK_OFFICE_PREFIX):
        return None
    for text in (target, unquote(target)):
        if "\\" in text or any(_is_invisible(char) for char in text):
            return None
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return None
        if any(segment in (".", "..") for segment in parts.path.split("/")):
            return None
    return target


def _ip_limit() -> str:
    return str(current_app.config["STAFF_LOGIN_RATE_LIMIT_IP"])


def _account_limit() -> str:
    return str(current_app.config["STAFF_LOGIN_RATE_LIMIT_ACCOUNT"])


def _submitted_account() -> str:
    # Counted whether or not the account exists, so the limit itself reveals nothing.
    return auth.normalise_email(request.form.get("email", ""))[:320]


def _device_bucket() -> str | None:
    """'device:<id>' when this browser signed in to the account now tried before (its
    known-device cookie says so): its failures are counted apart from everyone else's, so a
    stranger's guesses cannot lock the account's own browser out."""
    device = known_device.read(request.cookies.get(known_device.COOKIE_NAME))
    if device is not None and known_device.is_known_for(device, _submitted_account()):
        return f"device:{device.id}"
    return None


def _ip_key() -> str:
    return _device_bucket() or get_remote_address()


def _account_key() -> str:
    account = _submitted_account()
    if not account:
        return ""  # (Flask-Limiter skips an empty key; the form refuses an empty address)
    bucket = _device_bucket()
    return f"{account}|{bucket}" if bucket else account


def _failed(response: Response) -> bool:
    """Only a wrong password (401) counts against the limits: a desk that signs in many
    times a day is never throttled, and a form refused for a missing field costs nothing."""
    return response.status_code == 401


def _after_sign_in(target: str | None) -> Response:
    return redirect(target or url_for("staff.queue"), code=303)


@limiter.limit(_ip_limit, key_func=_ip_key, methods=["POST"], deduct_when=_failed)
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"], scope="account",
               deduct_when=_failed)
def login() -> Response | str | tuple[str, int]:
    target = safe_next(request.args.get("next"))
    if request.method == "GET" and current_user.is_authenticated:
        return _after_sign_in(target)
    form = SignInForm()
    if request.method == "GET":
        return render_template("staff/login.html", form=form, next=target)
    if not form.validate():
        return render_template("staff/login.html", form=form, next=target), 422
    db = database.session()
    user = auth.sign_in(db, form.email.data or "", form.password.data or "")
    if user is None:
        log.warning("failed staff sign-in for %r from %s", form.email.data, request.remote_addr)
        security_events.note("sign_in_failed", target=_submitted_account(),
                             detail="wrong e-mail address or password (or a deactivated account)")
        return render_template(
            "staff/login.html", form=form, next=target, failed=SIGN_IN_FAILED
        ), 401
    if two_factor.is_enabled(user):
        with unit_of_work(db):
            pass  # commits sign_in()'s bookkeeping (last sign-in, an upgraded hash)
        # The password was right; the session starts only with the code. Nothing from before
        # carries over, and the half-way state lives a few minutes in the signed cookie.
        session.clear()
        session[PENDING] = {"u": user.id, "at": int(time.time()), "next": target}
        return redirect(url_for("staff.login_code"), code=303)
    return _start(db, user, target, "password")


def _start(db: Session, user: StaffUser, target: str | None, how: str) -> Response:
    """Sign `user` in: a new session (replacing any live one), the known-device cookie."""
    with unit_of_work(db):
        security_events.record(db, "sign_in", actor=user.actor, target=user.email,
                               detail=f"with {how}")
        if current_user.is_authenticated:
            # Signing in over a live session replaces it: the old one must not outlive its
            # cookie.
            auth.end_session(db, current_user.get_id())
        token = auth.start_session(db, user)
    # A new session: nothing from before signing in (a planted CSRF token, say) carries over.
    session.clear()
    login_user(auth.SignedInStaff(user, token))
    response = _after_sign_in(target)
    if two_factor.is_required(user) and not two_factor.is_enabled(user):
        response = redirect(url_for("staff.two_factor"), code=303)
    known_device.remember(
        response, known_device.read(request.cookies.get(known_device.COOKIE_NAME)), user.email)
    return response


def _pending() -> dict[str, Any] | None:
    """The sign-in waiting for its second factor, while it is fresh."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("u"), int):
        return None
    if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    return pending


def _code_key() -> str:
    pending = _pending()
    return f"code:{pending['u']}" if pending else ""


@limiter.limit(_ip_limit, key_func=get_remote_address, methods=["POST"], scope="code-ip",
               deduct_when=_failed)
@limiter.limit(_account_limit, key_func=_code_key, methods=["POST"], scope="code",
               deduct_when=_failed)
def login_code() -> Response | str | tuple[str, int]:
    """The second step for an account with two-factor sign-in: a code from the app, or a
    recovery code. Wrong codes count like wrong passwords."""
    pending = _pending()
    if pending is None:
        session.pop(PENDING, None)
        flash("Please sign in again: the code was not given within "
              f"{PENDING_SECONDS // 60} minutes.", "info")
        return redirect(url_for("staff.login"), code=303)
    form = CodeForm()
    if request.method == "GET":
        return render_template("staff/login_code.html", form=form)
    if not form.validate():
        return render_template("staff/login_code.html", form=form), 422
    db = database.session()
    user = db.get(StaffUser, pending["u"])
    codes_before = two_factor.recovery_codes_left(user) if user is not None else 0
    if user is None or not user.is_active or not two_factor.check_code(user, form.code.data or ""):
        log.warning("wrong second-factor code for staff:%s from %s", pending["u"],
                    request.remote_addr)
        security_events.note("second_factor_failed", actor=f"staff:{pending['u']}",
                             target=user.email if user else None,
                             detail="the password was right; the code was not")
        form.code.errors = [WRONG_CODE]
        return render_template("staff/login_code.html", form=form), 401
    left = two_factor.recovery_codes_left(user)
    how = "password and a recovery code" if left < codes_before else "password and code"
    response = _start(db, user, safe_next(pending.get("next")), how)
    if left < 3:
        flash(f"You have {left} recovery code{'s' if left != 1 else ''} left. Make new ones on "
              "the two-factor page.", "info")
    return response


@auth.role_required(StaffRole.VIEWER)
def logout() -> Response:
    with unit_of_work() as db:
        auth.end_session(db, current_user.get_id())
        security_events.record(db, "sign_out", target=current_user.email)
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("staff.login"), code=303)
