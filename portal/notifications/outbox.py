"""Queueing e-mail: render a template pair and add an outbox row to the caller's transaction.

templates/emails/<name>.txt holds the subject on its first line, a blank line, then the
plain-text body; templates/emails/<name>.html is the HTML part. Nothing is sent here: the
row is delivered by `flask --app portal outbox send` after the transaction commits.
"""

import secrets
from typing import Any

from flask import current_app, render_template
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.notifications.models import OutboxEmail


def _message_id() -> str:
    domain = current_app.config["MAIL_FROM"].rsplit("@", 1)[-1].strip(" >") or "portal.invalid"
    return f"<{secrets.token_hex(16)}@{domain}>"


def enqueue(db: Session, to: str, template: str, **context: Any) -> OutboxEmail:
    """Render emails/<template>.{txt,html} for `to` and queue it in `db`'s transaction."""
    context.setdefault("publisher_name", current_app.config["PUBLISHER_NAME"])
    text = render_template(f"emails/{template}.txt", **context)
    subject, _, body = text.partition("\n")
    html = render_template(f"emails/{template}.html", subject=subject.strip(), **context)
    email = OutboxEmail(
        to_address=to,
        subject=subject.strip(),
        text_body=body.lstrip("\n"),
        html_body=html,
        template=template,
        message_id=_message_id(),
        next_attempt_at=utcnow(),
    )
    db.add(email)
    return email
