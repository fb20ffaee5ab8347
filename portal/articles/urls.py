"""Article URLs reduced to one lookup key, so that any link to an article finds it.

`normalise_url` makes Article.url_key at import and reads the `/republish?url=` parameter a
stranger typed, so it takes any string and returns either a key or None; it never raises.

The key is an https URL with:
- the scheme always https (http and https address the same article),
- the host lowercased, IDNA-encoded, without a trailing dot and without leading "www.",
- no user info, no default port (80 or 443), no fragment,
- the path percent-encoded where needed, without trailing slashes,
- the query without tracking parameters (utm_*, fbclid, ...), sorted.
"""

import ipaddress
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

#: longer input is refused rather than parsed (same bound as Article.url_key)
MAX_URL_LENGTH = 2000

# Campaign and click identifiers appended by newsletters, social networks and ad platforms.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "ocid", "cmpid", "ref_src", "smid",
})
_HOST_CHARS = re.compile(r"[a-z0-9_.-]+")
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
# Characters RFC 3986 allows in a path as they are; "%" too, so that escapes stay escapes.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def normalise_url(url: object) -> str | None:
    """The lookup key of URL, or None when it is not a usable http(s) URL."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        return None
    try:
        key = _normalise(url.strip())
    except (ValueError, UnicodeError):  # urllib's and the idna codec's complaints
        return None
    if key is None or len(key) > MAX_URL_LENGTH:
        return None
    return key


def _normalise(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return None
    host = _normalise_host(parts.hostname or "")
    if host is None:
        return None
    port = parts.port  # raises ValueError when not a number in range
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = quote(parts.path, safe=_PATH_SAFE).rstrip("/")
    path = _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), path)
    pairs = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(name)
    ]
    query = urlencode(sorted(pairs), quote_via=quote)
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


def _normalise_host(host: str) -> str | None:
    host = host.rstrip(".")
    if ":" in host:  # an IPv6 literal (urlsplit removed the brackets)
        return f"[{ipaddress.IPv6Address(host).compressed}]"
    host = host.encode("idna").decode("ascii").lower()
    # "www." is how the publisher's site is usually written, but links without it are common.
    while host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    return host if host and _HOST_CHARS.fullmatch(host) else None


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in TRACKING_PARAMS
