"""What every template can use: the publisher's identity, labels of stored codes, dates."""

import re
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date, format_datetime
from flask import Flask, Response, current_app, request

from portal.licensing import usage
from portal.licensing.lifecycle import STATE_LABELS, STATE_SHORT_LABELS

LABELS: dict[str, dict[str, str]] = {
    "organisation_type": usage.ORGANISATION_TYPES,
    "medium": usage.MEDIA,
    "audience_band": usage.AUDIENCE_BANDS,
    "territory": usage.TERRITORIES,
    "territory_region": usage.REGIONS,
    "language": usage.LANGUAGE_OPTIONS,
    "portion": usage.PORTIONS,
    "term": usage.TERMS,
    "state": {state.value: text for state, text in STATE_LABELS.items()},
    "state_short": {state.value: text for state, text in STATE_SHORT_LABELS.items()},
}

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?$")


def label(code: str | None, kind: str) -> str:
    """The readable label of a stored code ("one_year" -> "One year")."""
    if code is None:
        return ""
    if kind == "country":
        return usage.countries().get(code, code)
    if kind == "language_code":
        return usage.languages().get(code, code)
    return LABELS[kind].get(code, code)


def show_date(value: date | datetime | None, style: str = "long") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_date(value.date(), style, locale="en_GB")
    return format_date(value, style, locale="en_GB")


def show_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(value, "d MMMM y, HH:mm 'UTC'", tzinfo="UTC", locale="en_GB")


def age(elapsed: timedelta) -> str:
    """How long something has waited, in the largest unit that says it: "3 d", "5 h"."""
    minutes = max(0, int(elapsed.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def theme_css() -> Response:
    """The publisher's accent colour as a stylesheet (inline styles are barred by the CSP)."""
    colour = current_app.config["PUBLISHER_ACCENT_COLOUR"]
    if not _HEX_COLOUR.match(str(colour)):
        colour = "#1a5fb4"
    response = Response(f":root {{ --accent: {colour}; }}\n", mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


def checkout_origins(app: Flask) -> tuple[str, ...]:
    """The origins of the payment pages the portal's providers send buyers to."""
    cached: tuple[str, ...] | None = app.extensions.get("portal.checkout_origins")
    if cached is None:
        from portal.payments.models import PaymentProvider
        from portal.payments.provider import ProviderError
        from portal.payments.registry import provider

        origins: list[str] = []
        names = {str(app.config["PAYMENT_PROVIDER"])} | {p.value for p in PaymentProvider}
        for name in sorted(names):
            try:
                origins += [o for o in provider(name).checkout_origins if o not in origins]
            except ProviderError:  # not set up here (no Stripe key): never sent to
                continue
        cached = app.extensions["portal.checkout_origins"] = tuple(origins)
    return cached


def init_app(app: Flask) -> None:
    app.add_url_rule("/theme.css", "theme_css", theme_css)
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["show_date"] = show_date
    app.jinja_env.filters["show_datetime"] = show_datetime
    app.jinja_env.filters["age"] = age

    @app.context_processor
    def publisher() -> dict[str, Any]:
        config = app.config
        return {
            "publisher": {
                "name": config["PUBLISHER_NAME"],
                "site_url": config["PUBLISHER_SITE_URL"],
                "logo_url": config["PUBLISHER_LOGO_URL"],
                "footer_links": config["PUBLISHER_FOOTER_LINKS"],
                "contact_email": config["LICENSING_CONTACT_EMAIL"],
            }
        }

    @app.after_request
    def security_headers(response: Response) -> Response:
        form_action = "'self'"
        if request.path.startswith("/requests/"):
            # "Accept and pay" and "Continue to payment" post here and are answered with a
            # redirect to the provider's hosted payment page: browsers apply form-action to
            # that redirect too, so the provider's origin must be allowed on these pages.
            form_action = " ".join(["'self'", *checkout_origins(app)])
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
            f"script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
            f"form-action {form_action}; base-uri 'none'",
        )
        if app.config["ENV"] == "production":
            # Production is served over https only (BASE_URL must be https://): browsers that
            # saw it once never try plain http again, for a year. No other window (a page that
            # opened ours, or Stripe's) keeps a handle on the portal's windows.
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # Status pages carry the requester's secret in their URL: never send it onwards.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
