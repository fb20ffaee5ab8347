"""Staff sign-in: argon2id passwords, sign-in sessions, Flask-Login, and role checks on views.

The session cookie carries only a random token; the database keeps its sha256 (StaffSession).
A session is live while it has not ended, its user is active, and it is neither too old nor
idle too long, so signing out or deactivating a user ends it for whoever holds a copy of the
cookie. Services here take a database session and flush at most; the caller commits.
"""

import functools
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import Flask, abort, current_app, flash, redirect, request
from flask_login import LoginManager, current_user, login_url
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.wrappers import Response

from portal import db as database
from portal import security_events
from portal.db import utcnow
from portal.staff import breached
from portal.staff.models import StaffRole, StaffSession, StaffUser

PASSWORD_MIN_LENGTH = 12
#: last_seen_at is written at most this often: precise enough for the idle limit, and a
#: page view does not cost a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)

# The argon2id cost comes from configuration (ARGON2_*): production strength by default,
# a cheap profile in the test suite. A hash carries its own parameters, so any hash verifies
# whatever the configured cost; one made with other parameters is rehashed at the next sign-in.
HASHER_KEY = "portal.staff.password_hasher"
DUMMY_HASH_KEY = "portal.staff.dummy_password_hash"

LOGIN_MESSAGE = "Please sign in to use the licensing desk."

login_manager = LoginManager()
login_manager.login_view = "staff.login"

View = TypeVar("View", bound=Callable[..., Any])


class StaffAccountError(ValueError):
    """A staff account cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True, eq=False)
class SignedInStaff:
    """current_user while someone is signed in: the account and this sign-in's token.

    Flask-Login keeps get_id() in the cookie, so it is the session token, not the user id.
    The common attributes of the account are at hand; for the model itself (to store it or
    relate to it) use current_staff().
    """

    user: StaffUser
    token: str
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    def get_id(self) -> str:
        return self.token

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> StaffRole:
        return self.user.role

    @property
    def actor(self) -> str:
        return self.user.actor

    def can(self, role: StaffRole) -> bool:
        return self.user.can(role)


def current_staff() -> StaffUser:
    """The signed-in staff user, loaded in this request's database session.

    Only for views behind role_required(), where someone is signed in by construction.
    """
    signed_in = current_user._get_current_object()  # the object, not Flask-Login's proxy
    if isinstance(signed_in, SignedInStaff):
        return signed_in.user
    raise RuntimeError("current_staff() called where nobody is signed in")


# --- passwords ----------------------------------------------------------------------------

def password_hasher(config: Mapping[str, Any]) -> PasswordHasher:
    """The argon2id hasher with the configured cost (ARGON2_TIME_COST, ARGON2_MEMORY_COST in
    KiB, ARGON2_PARALLELISM)."""
    return PasswordHasher(
        time_cost=int(config["ARGON2_TIME_COST"]),
        memory_cost=int(config["ARGON2_MEMORY_COST"]),
        parallelism=int(config["ARGON2_PARALLELISM"]),
    )


def _hasher() -> PasswordHasher:
    hasher: PasswordHasher = current_app.extensions[HASHER_KEY]
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(user: StaffUser, password: str) -> bool:
    """True when `password` is `user`'s (for re-checking it, as a password change does)."""
    return _password_matches(user.password_hash, password)


def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made with the same parameters as real ones: checking
    a password against it costs what checking a real account does. Made on the app's first
    use, so creating an app (one per test) stays cheap."""
    if DUMMY_HASH_KEY not in current_app.extensions:
        current_app.extensions[DUMMY_HASH_KEY] = hash_password(secrets.token_urlsafe(32))
    dummy: str = current_app.extensions[DUMMY_HASH_KEY]
    return dummy


def check_password_policy(password: str) -> None:
    """StaffAccountError when a new password is too short or known from a breach."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise StaffAccountError(
            f"The password must have at least {PASSWORD_MIN_LENGTH} characters."
        )
    if breached.is_breached(password):
        raise StaffAccountError(breached.BREACHED)


def normalise_email(email: str) -> str:
    """The sign-in name as stored: trimmed and lowercased."""
    return email.strip().lower()


# --- accounts -----------------------------------------------------------------------------

def find_user(db: Session, email: str) -> StaffUser | None:
    return db.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


def create_user(
    db: Session, email: str, role: StaffRole, password: str, name: str = ""
) -> StaffUser:
    """A new active staff account; StaffAccountError for a bad e-mail, a short password or
    an address already taken."""
    address = normalise_email(email)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise StaffAccountError(f"{email!r} is not a valid e-mail address: {error}") from error
    check_password_policy(password)
    if find_user(db, address) is not None:
        raise StaffAccountError(f"There is already a staff account for {address}.")
    user = StaffUser(email=address, name=name.strip(), role=role,
                     password_hash=hash_password(password), is_active=True)
    db.add(user)
    # Flushed so that the caller has the new id to show or link to.
    db.flush()
    return user


def deactivate_user(db: Session, user: StaffUser) -> int:
    """Stop the user signing in and end their open sessions; returns how many ended."""
    user.is_active = False
    return end_all_sessions(db, user)


def sign_in(db: Session, email: str, password: str) -> StaffUser | None:
    """The account if the password is right and the account active, else None.

    Every outcome checks one argon2 hash, so an unknown address takes as long as a wrong
    password and the answer's timing does not tell which addresses have accounts.
    """
    user = find_user(db, email)
    if user is None:
        _password_matches(_dummy_hash(), password)
        return None
    if not _password_matches(user.password_hash, password) or not user.is_active:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


# --- sign-in sessions ---------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Session, user: StaffUser) -> str:
    """A new sign-in session for `user`; returns the token for the cookie (stored hashed)."""
    token = secrets.token_urlsafe(32)
    db.add(StaffSession(token_hash=_token_hash(token), user_id=user.id))
    return token


def end_session(db: Session, token: str) -> None:
    db.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _token_hash(token), StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_all_sessions(db: Session, user: StaffUser, keep: str | None = None) -> int:
    """End every open session of `user` (but the one whose token is `keep`); returns how
    many there were."""
    condition = [StaffSession.user_id == user.id, StaffSession.ended_at.is_(None)]
    if keep is not None:
        condition.append(StaffSession.token_hash != _token_hash(keep))
    result = db.execute(update(StaffSession).where(*condition).values(ended_at=utcnow()))
    return cast(CursorResult[Any], result).rowcount


def is_live(staff_session: StaffSession, now: datetime, max_age: timedelta,
            max_idle: timedelta) -> bool:
    return (
        staff_session.ended_at is None
        and staff_session.user.is_active
        and now - staff_session.created_at < max_age
        and now - staff_session.last_seen_at < max_idle
    )


def find_live_session(db: Session, token: str, max_age: timedelta,
                      max_idle: timedelta) -> StaffSession | None:
    staff_session = db.scalar(
        select(StaffSession)
        .where(StaffSession.token_hash == _token_hash(token))
        .options(joinedload(StaffSession.user))
    )
    if staff_session is None or not is_live(staff_session, utcnow(), max_age, max_idle):
        return None
    return staff_session


def _touch(staff_session: StaffSession) -> None:
    """Record activity for the idle limit, in a transaction of its own: the request's
    session may hold a view's uncommitted work, which this must neither commit nor lose."""
    now = utcnow()
    if now - staff_session.last_seen_at < LAST_SEEN_RESOLUTION:
        return
    with database.database().engine.begin() as connection:
        connection.execute(
            update(StaffSession).where(StaffSession.id == staff_session.id)
            .values(last_seen_at=now)
        )


@login_manager.user_loader
def _load_signed_in(token: str) -> SignedInStaff | None:
    config = current_app.config
    staff_session = find_live_session(
        database.session(),
        token,
        max_age=timedelta(hours=float(config["STAFF_SESSION_MAX_HOURS"])),
        max_idle=timedelta(minutes=float(config["STAFF_SESSION_IDLE_MINUTES"])),
    )
    if staff_session is None:
        return None
    _touch(staff_session)
    return SignedInStaff(staff_session.user, token)


# --- views --------------------------------------------------------------------------------

@login_manager.unauthorized_handler
def _ask_to_sign_in() -> Response:
    """Send an anonymous visitor to the sign-in page, with where to come back to.

    Coming back is always a GET: to the page asked for or, for a form sent after the
    session ended, to the page the form was on (a GET of the form's action would be 405).
    """
    back = request.url if request.method == "GET" else request.referrer
    flash(LOGIN_MESSAGE, "info")
    return redirect(login_url(login_manager.login_view, next_url=back), code=303)


def role_required(role: StaffRole) -> Callable[[View], View]:
    """Let the view run only for a signed-in user holding `role` (or a higher one).

    Anonymous users are sent to the sign-in page; others get 403. The role is recorded on
    the view as `required_role`, so the access tests read each route's rule from the view.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                security_events.note("forbidden", target=security_events.where(),
                                     detail=f"needs the {role.value} role; "
                                            f"has {current_user.role.value}")
                abort(403)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return cast(View, guarded)

    return decorate


def required_role(view: Callable[..., Any]) -> StaffRole | None:
    """The role a view was guarded with by role_required(), or None."""
    return cast(StaffRole | None, getattr(view, "required_role", None))


def init_app(app: Flask) -> None:
    # Sign-in never sets Flask-Login's remember-me cookie (login_user is called without
    # remember=True): a sign-in lasts as long as its StaffSession, and no longer.
    login_manager.init_app(app)
    app.extensions[HASHER_KEY] = password_hasher(app.config)
