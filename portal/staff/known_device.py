"""The "known device" cookie of staff sign-in: a signed cookie that a successful sign-in sets,
naming the accounts signed in from this browser. Sign-in throttling counts failures from a
known device apart from everyone else's, so a stranger who floods an account with wrong
passwords locks out only the rest of the world: the account's own browser still signs in
with the right password (docs/staff.md, "Sign-in throttling").

A cookie rather than the last network: an office, a café or a mobile carrier puts many people
behind one address, and an attacker there would share the exemption; a cookie signed with the
portal's secret key cannot be made by anyone who has not signed in from that browser.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

COOKIE_NAME = "staff_device"
_SALT = "portal.staff.known-device"
#: a browser remembers at most this many accounts (a shared desk computer)
MAX_ACCOUNTS = 10


@dataclass(frozen=True)
class KnownDevice:
    #: random, minted at this browser's first successful sign-in
    id: str
    #: account_tag() of each account signed in from here, the latest last
    accounts: tuple[str, ...]


def account_tag(email: str) -> str:
    """How the cookie names an account: not the address itself, which a cookie would show."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_SALT)


def _max_age() -> timedelta:
    return timedelta(days=float(current_app.config["STAFF_KNOWN_DEVICE_DAYS"]))


def read(cookie: str | None) -> KnownDevice | None:
    """The device a cookie names, if it is ours, unaltered and not too old."""
    if not cookie:
        return None
    try:
        data = _serializer().loads(cookie, max_age=int(_max_age().total_seconds()))
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str) or not isinstance(
            data.get("a"), list):
        return None
    return KnownDevice(data["d"], tuple(str(tag) for tag in data["a"]))


def is_known_for(device: KnownDevice | None, email: str) -> bool:
    return device is not None and account_tag(email) in device.accounts


def remember(response: Response, device: KnownDevice | None, email: str) -> None:
    """Set (or refresh) the cookie after a successful sign-in to `email`."""
    tag = account_tag(email)
    known = device or KnownDevice(secrets.token_urlsafe(16), ())
    accounts = [*(a for a in known.accounts if a != tag), tag][-MAX_ACCOUNTS:]
    config = current_app.config
    response.set_cookie(
        COOKIE_NAME,
        _serializer().dumps({"d": known.id, "a": accounts}),
        max_age=int(_max_age().total_seconds()),
        path="/staff/",
        httponly=True,
        secure=bool(config.get("SESSION_COOKIE_SECURE")),
        samesite="Lax",
    )
