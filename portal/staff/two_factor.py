"""Staff two-factor sign-in: time-based one-time codes (TOTP, RFC 6238, by pyotp) from an
authenticator app, enrolled by scanning a QR code (segno), with single-use recovery codes for a
lost phone. With STAFF_2FA = "required", admins must turn it on before using the back office.

A code is accepted for the current 30-second step or the one either side (clocks drift), and
never twice: the last step used is stored. Recovery codes are stored as sha256 hashes (they
are long random strings, so a slow hash adds nothing) and each is struck off when used.
Services here take the user and flush nothing; the caller commits.
"""

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask import current_app

from portal.staff.models import StaffRole, StaffUser

STEP_SECONDS = 30
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: StaffUser, secret: str) -> str:
    issuer = f"{current_app.config['PUBLISHER_NAME']} licensing"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The QR code of `uri` as an SVG data: URI (the pages' CSP allows data: images)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def is_enabled(user: StaffUser) -> bool:
    return user.totp_secret is not None


def is_required(user: StaffUser) -> bool:
    """True when this user must have two-factor sign-in (admins, with STAFF_2FA=required)."""
    return (str(current_app.config.get("STAFF_2FA", "optional")) == "required"
            and user.role == StaffRole.ADMIN)


def _matching_step(secret: str, code: str, after: int | None, now: float) -> int | None:
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def check_code(user: StaffUser, code: str, now: float | None = None) -> bool:
    """True (and the code used up) when `code` is a current one-time code or an unused
    recovery code of `user`."""
    if user.totp_secret is None:
        return False
    typed = _normalise(code)
    if typed.isdigit() and len(typed) == 6:
        step = _matching_step(user.totp_secret, typed, user.totp_last_step,
                              time.time() if now is None else now)
        if step is None:
            return False
        user.totp_last_step = step
        return True
    hashes = user.recovery_code_hashes.split()
    digest = _hash(typed)
    if digest in hashes:
        hashes.remove(digest)
        user.recovery_code_hashes = " ".join(hashes)
        return True
    return False


def _recovery_codes() -> list[str]:
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def enable(user: StaffUser, secret: str, code: str, now: float | None = None) -> list[str] | None:
    """Turn two-factor sign-in on with `secret` if `code` is a current code for it; returns the
    new recovery codes (shown once), or None when the code is wrong."""
    typed = _normalise(code)
    step = _matching_step(secret, typed, None, time.time() if now is None else now)
    if step is None:
        return None
    user.totp_secret = secret
    user.totp_last_step = step
    return new_recovery_codes(user)


def new_recovery_codes(user: StaffUser) -> list[str]:
    """A fresh set of recovery codes (the old ones stop working); shown once."""
    codes = _recovery_codes()
    user.recovery_code_hashes = " ".join(_hash(code) for code in codes)
    return codes


def disable(user: StaffUser) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    user.recovery_code_hashes = ""


def recovery_codes_left(user: StaffUser) -> int:
    return len(user.recovery_code_hashes.split())
