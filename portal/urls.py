"""Absolute links for e-mails, documents and providers, built from the URL map and
PORTAL_BASE_URL, so they need no request (the outbox worker and commands have none)."""

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def link(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint` under the configured base URL."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/",
                                       url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def external(path: str) -> str:
    """The absolute URL of a path the portal serves (prefer `link`)."""
    return current_app.config["BASE_URL"] + path
