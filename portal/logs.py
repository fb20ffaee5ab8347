"""Logging: one configuration (dictConfig) for the whole process, a request id on every line
logged during a request, secrets masked on every line, and Sentry when a DSN is configured.

Development and test write plain lines for people; production writes one JSON object per line
for a log collector. `LOG_FORMAT` ("plain" or "json") and `LOG_LEVEL` choose (PORTAL_LOG_FORMAT,
PORTAL_LOG_LEVEL).
"""

import json
import logging
import logging.config
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, g, has_request_context, request

from portal.config import ConfigurationError

FORMATS = ("plain", "json")
REQUEST_ID_HEADER = "X-Request-ID"
# An id a proxy sends is reused only when it is short and harmless in a log line or a header.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Loggers whose records are masked where they are made, so that every handler sees them masked
# (gunicorn's own handlers and pytest's capture included), not only ours. Records of portal.*
# child loggers are masked by the filter on our handler.
_SOURCES = ("werkzeug", "gunicorn.access", "gunicorn.error", "portal")

# Secrets that travel in URLs: a requester's status token, a checkout's return key, a staff
# password reset link's token, any token= query value. (The back office's own
# /staff/requests/RR-... holds a reference, not a secret, and is kept.)
_SECRETS = (
    (re.compile(r"(?<!/staff)/requests/[A-Za-z0-9_\-%]{8,}"), "/requests/…"),
    (re.compile(r"/staff/password/reset/[A-Za-z0-9_\-%.]{8,}"), "/staff/password/reset/…"),
    (re.compile(r"/my-requests/[A-Za-z0-9_\-%.]{8,}"), "/my-requests/…"),
    (re.compile(r"/payments/[A-Za-z0-9_\-%.]{8,}/(return|cancelled)\b"), r"/payments/…/\1"),
    (re.compile(r"([?&;]token=)[^&;#\s\"']+", re.IGNORECASE), r"\1…"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks status tokens, checkout return keys and token= values in a record's message and
    exception text. It changes the record itself, so handlers after this one see it masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call is the handler's to report, as usual
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text once set: the traceback is rendered (and masked) once.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RequestId(logging.Filter):
    """Puts the current request's id on the record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() if has_request_context() else "-"
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s",
                         defaults={"request_id": "-"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id
    (left out outside a request) and exception (when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (a test's capture, a redirected stream)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


class Annotate(logging.Handler):
    """The test environment's handler: adds the request id and masks secrets on each record on
    its way to the root logger's handlers (pytest's, which show it), and writes nothing itself,
    so no log line lands in a command's output that a test reads."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


def logging_config(log_format: str, level: str, env: str) -> dict[str, Any]:
    """The dictConfig for one format, level and environment."""
    config: dict[str, Any] = {
        "version": 1,
        # Loggers made before this (SQLAlchemy's, Stripe's, pytest's) keep working.
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestId},
            "redact": {"()": RedactSecrets},
        },
        "formatters": {
            "plain": {"()": PlainFormatter},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {"()": ConsoleHandler, "formatter": log_format,
                        "filters": ["request_id", "redact"]},
            "annotate": {"()": Annotate, "filters": ["request_id", "redact"]},
        },
        "loggers": {
            "portal": {"level": level},
            # werkzeug's development server logs each request at INFO (shown at LOG_LEVEL=INFO).
            # gunicorn's loggers are left to config/gunicorn.conf.py (where its access log goes,
            # and in what format); their records are masked at the source all the same.
            "werkzeug": {"level": level},
            # Alembic says at INFO which plugins it loaded, on every command: only its
            # warnings are worth a line.
            "alembic": {"level": "WARNING"},
        },
    }
    if env == "test":
        # pytest's capture handlers (caplog) live on the root logger: leave the root alone;
        # the portal's records reach them, annotated and masked on the way.
        config["loggers"]["portal"]["handlers"] = ["annotate"]
    else:
        config["root"] = {"level": level, "handlers": ["console"]}
    return config


_applied: tuple[str, str, str] | None = None
_redact_at_source = RedactSecrets()


def configure_logging(log_format: str, level: str, env: str) -> None:
    """Applies the configuration once: an app made again with the same settings (as every test
    does) changes nothing."""
    global _applied
    if _applied == (log_format, level, env):
        return
    root = logging.getLogger()
    if env == "test":
        # An earlier app of this process (a test of production logging) may have configured the
        # root logger; take back what it did, and only that.
        ours = [handler for handler in root.handlers if isinstance(handler, ConsoleHandler)]
        for handler in ours:
            root.removeHandler(handler)
        if ours:
            root.setLevel(logging.WARNING)
    logging.config.dictConfig(logging_config(log_format, level, env))
    for name in _SOURCES:
        logging.getLogger(name).addFilter(_redact_at_source)  # one instance: added once
    _applied = (log_format, level, env)


def _settings(app: Flask) -> tuple[str, str]:
    log_format = str(app.config.get("LOG_FORMAT") or "").lower()
    if log_format not in FORMATS:
        raise ConfigurationError(
            f"PORTAL_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    raw_level = app.config.get("LOG_LEVEL") or "INFO"
    level = logging.getLevelName(raw_level) if isinstance(raw_level, int) else str(raw_level).upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigurationError(
            "PORTAL_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
            f"not {raw_level!r}")
    return log_format, level


def current_request_id() -> str:
    """The id of the request being answered: the proxy's X-Request-ID when it is a safe token,
    otherwise a new one."""
    if "request_id" not in g:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    return str(g.request_id)


def init_sentry(app: Flask) -> None:
    """Reports errors to Sentry when SENTRY_DSN is set; without it sentry_sdk is never imported."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    try:
        import sentry_sdk
        from sentry_sdk.integrations.flask import FlaskIntegration
    except ImportError as error:
        raise ConfigurationError(
            "PORTAL_SENTRY_DSN is set but sentry-sdk is not installed: "
            "pip install 'republishing-portal[prod]' (or pip install 'sentry-sdk[flask]')"
        ) from error
    sentry_sdk.init(
        dsn=str(dsn),
        integrations=[FlaskIntegration()],
        environment=app.config["ENV"],
        # requesters' addresses, cookies and form fields stay out of Sentry
        send_default_pii=False,
    )


def init_app(app: Flask) -> None:
    configure_logging(*_settings(app), env=app.config["ENV"])
    init_sentry(app)

    # The id is made when first needed (the first line logged, or this hook), so even a
    # response that a before_request hook gave early (a refused address, a rate limit) has one.
    @app.after_request
    def send_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = current_request_id()
        return response
