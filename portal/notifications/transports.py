"""Mail transports: how one queued e-mail leaves the portal (SMTP, SMTP over TLS, .eml files).

PORTAL_MAIL_URL picks the transport: `smtp://[user:pass@]host[:port][?starttls=1]`,
`smtps://[user:pass@]host[:port]` (implicit TLS) or `file://DIR` (one .eml file per message,
the development default). A transport either delivers or raises DeliveryError, saying
whether trying again later could help.
"""

import re
import smtplib
import ssl
from contextlib import closing, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from portal.notifications.models import OutboxEmail

Security = Literal["plain", "starttls", "tls"]
DEFAULT_PORTS: dict[Security, int] = {"plain": 25, "starttls": 587, "tls": 465}
DEFAULT_TIMEOUT_SECONDS = 30.0


class DeliveryError(Exception):
    """A message was not delivered; `permanent` when retrying cannot change the answer."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver `message`, or raise DeliveryError."""


def build_message(email: OutboxEmail, mail_from: str) -> EmailMessage:
    """The message of an outbox row: the same bytes on every attempt, so a retry is no new mail."""
    message = EmailMessage()
    try:
        message["From"] = mail_from
        message["To"] = email.to_address
        message["Subject"] = email.subject
        # When the e-mail was written, not when a retry finally got it through.
        message["Date"] = format_datetime(email.created_at)
        message["Message-ID"] = email.message_id
        # Automatic mail: autoresponders (out of office...) should not answer it (RFC 3834).
        message["Auto-Submitted"] = "auto-generated"
    except ValueError as error:  # e.g. a line break in a header: no server will ever take it
        raise DeliveryError(f"malformed message: {error}", permanent=True) from error
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


def _refusal(stage: str, code: int, response: bytes | str) -> DeliveryError:
    text = response.decode(errors="replace") if isinstance(response, bytes) else response
    return DeliveryError(f"{stage}: {code} {text}", permanent=500 <= code < 600)


@dataclass(frozen=True)
class SmtpTransport:
    """One SMTP connection per message: outbox volumes are small, and nothing goes stale."""

    host: str
    port: int
    security: Security = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    #: None: the system's trusted certificates
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    def __str__(self) -> str:
        scheme = "smtps" if self.security == "tls" else "smtp"
        return f"{scheme}://{self.host}:{self.port}" + (" (STARTTLS)" if self.security == "starttls" else "")

    def send(self, message: EmailMessage) -> None:
        # Only a refusal of this very message can be permanent; failing to reach or log in to
        # the server (refused connection, timeout, TLS, credentials) is ours to fix, so retry.
        context = self.ssl_context or ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with closing(smtp):
                if self.security == "starttls":
                    # Raises if the server offers no STARTTLS: never fall back to plain text.
                    smtp.starttls(context=context)
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
                # The message is ours no longer once DATA was accepted; a failed goodbye
                # must not make it look undelivered (and be sent again).
                with suppress(OSError):
                    smtp.quit()
        except smtplib.SMTPRecipientsRefused as error:
            # One recipient per message, so this is the refusal of the only one.
            code, response = next(iter(error.recipients.values()))
            raise _refusal("recipient refused", code, response) from error
        except smtplib.SMTPSenderRefused as error:
            raise _refusal("sender refused", error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPDataError as error:
            raise _refusal("message refused", error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPNotSupportedError as error:
            # The message needs SMTPUTF8 and this server lacks it: no retry will change that.
            raise DeliveryError(f"server cannot take this message: {error}",
                                permanent=True) from error
        except OSError as error:  # smtplib's other errors, sockets and TLS all derive from it
            raise DeliveryError(f"{type(error).__name__}: {error}", permanent=False) from error


@dataclass(frozen=True)
class FileTransport:
    """Writes each message to DIR/<date>-<message id>.eml (a retry rewrites the same file)."""

    directory: Path

    def __str__(self) -> str:
        return f"file://{self.directory}"

    def send(self, message: EmailMessage) -> None:
        message_id = re.sub(r"[^A-Za-z0-9@._-]", "_", str(message["Message-ID"]).strip("<> "))
        name = f"{message['Date'].datetime:%Y%m%d-%H%M%S}-{message_id}.eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed, so a reader of DIR never sees half a message.
            partial = self.directory / f".{name}.partial"
            partial.write_bytes(bytes(message))
            partial.replace(self.directory / name)
        except OSError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}", permanent=False) from error


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"mail URL option {name}={value!r}: use 1 or 0")


def transport_from_url(url: str) -> Transport:
    """The transport PORTAL_MAIL_URL describes; ValueError says what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ValueError("a file:// mail URL needs a directory, e.g. file:///var/lib/portal/mail")
        return FileTransport(Path(path))
    if parts.scheme not in ("smtp", "smtps"):
        # Only the scheme is quoted: the rest of the URL may hold a password.
        raise ValueError(
            f"unknown mail URL scheme {parts.scheme!r}: use smtp://host:port, "
            "smtp://host:port?starttls=1, smtps://host:port or file://DIR"
        )
    if not parts.hostname:
        raise ValueError(f"a {parts.scheme}:// mail URL needs a host, e.g. {parts.scheme}://mail.example.com")
    options = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(options) - {"starttls", "timeout"}
    if unknown:
        raise ValueError(f"unknown mail URL option(s) {', '.join(sorted(unknown))}: "
                         "known are starttls, timeout")
    starttls = _flag("starttls", options.get("starttls", "0"))
    if parts.scheme == "smtps" and starttls:
        raise ValueError("smtps:// is TLS from the first byte; starttls=1 belongs to smtp:// URLs")
    security: Security = "tls" if parts.scheme == "smtps" else "starttls" if starttls else "plain"
    return SmtpTransport(
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[security],
        security=security,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=float(options.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
    )
