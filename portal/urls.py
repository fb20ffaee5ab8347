"""Absolute links for e-mails and documents, built from PORTAL_BASE_URL (no request needed)."""

from flask import current_app


def external(path: str) -> str:
    return current_app.config["BASE_URL"] + path
