"""Staff passwords beyond signing in: changing one's own password, and resetting it by an
e-mailed single-use link. (Every new password passes auth.check_password_policy, which
refuses breached ones: portal/staff/breached.py.)

Reset links carry no state in the database: a token signed with the secret key names the
account and a fingerprint of its current password hash, and lives STAFF_PASSWORD_RESET_MINUTES.
Setting a password changes the hash, so every link issued before stops working: a link works
once. Services here take a database session and flush at most; the caller commits.
"""

import hashlib

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from portal.notifications.outbox import enqueue
from portal.staff import auth
from portal.staff.models import StaffUser
from portal.urls import link

_RESET_SALT = "portal.staff.password-reset"


# --- changing a password ------------------------------------------------------------

def set_password(db: Session, user: StaffUser, password: str, *,
                 keep_session: str | None = None) -> int:
    """Give `user` a new password and end their sessions (all but `keep_session`, the token
    of the one making the change); returns how many ended."""
    auth.check_password_policy(password)
    user.password_hash = auth.hash_password(password)
    return auth.end_all_sessions(db, user, keep=keep_session)


# --- reset links --------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_RESET_SALT)


def _fingerprint(user: StaffUser) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:24]


def reset_token(user: StaffUser) -> str:
    return _serializer().dumps({"u": user.id, "p": _fingerprint(user)})


def reset_minutes() -> int:
    return int(current_app.config["STAFF_PASSWORD_RESET_MINUTES"])


def user_for_reset(db: Session, token: str) -> StaffUser | None:
    """The active account a reset token is for, while it is fresh and unused, else None."""
    try:
        data = _serializer().loads(token, max_age=reset_minutes() * 60)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.get(StaffUser, data["u"])
    if user is None or not user.is_active or data.get("p") != _fingerprint(user):
        return None
    return user


def send_reset_link(db: Session, email: str) -> bool:
    """Queue a reset link to `email` if it names an active account; True if one was queued.
    The caller answers the same either way."""
    user = auth.find_user(db, email)
    if user is None or not user.is_active:
        return False
    enqueue(db, user.email, "staff_password_reset", user=user, minutes=reset_minutes(),
            reset_url=link("staff.reset_password", token=reset_token(user)),
            forgot_url=link("staff.forgot_password"))
    return True
