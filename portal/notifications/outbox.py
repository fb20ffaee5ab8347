"""Queueing e-mail: render a template pair and add an outbox row to the caller's transaction.

templates/emails/<name>.txt holds the subject on its first line, a blank line, then the
plain-text body; templates/emails/<name>.html is the HTML part. Nothing is sent here: the
row is delivered by `flask --app portal outbox send` after the transaction commits.
"""

import re
import secrets
from typing import Any

from flask import current_app, render_template
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.notifications.models import LINK_PLACEHOLDER, OutboxEmail

SUBJECT_MAX = 300
_SPACE = re.compile(r"\s+")


def _message_id() -> str:
    domain = current_app.config["MAIL_FROM"].rsplit("@", 1)[-1].strip(" >") or "portal.invalid"
    return f"<{secrets.token_hex(16)}@{domain}>"


def _subject(line: str) -> str:
    """One line, of a length every mail server and the column take."""
    line = _SPACE.sub(" ", line).strip()
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1].rstrip() + "…"


def enqueue(db: Session, to: str, template: str, *, link_request_id: int | None = None,
            **context: Any) -> OutboxEmail:
    """Render emails/<template>.{txt,html} for `to` and queue it in `db`'s transaction.

    With `link_request_id`, the templates' `status_url` is a placeholder that the sender
    replaces with a freshly minted status-page link when it sends the message.
    """
    context.setdefault("publisher_name", current_app.config["PUBLISHER_NAME"])
    if link_request_id is not None:
        context["status_url"] = LINK_PLACEHOLDER
    text = render_template(f"emails/{template}.txt", **context)
    first_line, _, body = text.partition("\n")
    subject = _subject(first_line)
    html = render_template(f"emails/{template}.html", subject=subject, **context)
    email = OutboxEmail(
        to_address=to,
        link_request_id=link_request_id,
        subject=subject,
        text_body=body.lstrip("\n"),
        html_body=html,
        template=template,
        message_id=_message_id(),
        next_attempt_at=utcnow(),
    )
    db.add(email)
    return email
