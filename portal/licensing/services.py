"""Business rules of republishing requests. Views call these; they never see flask.request.

Services flush where they need database-generated values and leave the commit to the caller.
"""

import hashlib
import secrets
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.articles.models import Article
from portal.db import utcnow
from portal.licensing.lifecycle import Action, apply_transition
from portal.licensing.models import RepublishRequest
from portal.notifications.outbox import enqueue
from portal.sequences import next_value
from portal.urls import external


class ArticleNotLicensable(Exception):
    """The publisher does not license this article."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def find_by_token(db: Session, token: str) -> RepublishRequest | None:
    if not 20 <= len(token) <= 100:
        return None
    return db.scalar(select(RepublishRequest).where(RepublishRequest.token_hash == hash_token(token)))


def status_url(token: str) -> str:
    return external(f"/requests/{token}")


def submit_request(
    db: Session, article: Article, details: dict[str, Any]
) -> tuple[RepublishRequest, str]:
    """Store a new request, audit it, and queue the requester's and the desk's e-mails.

    Returns the request and its status-page token; only the token's hash is stored, so this
    is the one moment the token exists in the clear.
    """
    if not article.is_licensable:
        raise ArticleNotLicensable(article.rights_reason or "This article is not licensable.")
    token = secrets.token_urlsafe(32)  # 256 bits
    year = utcnow().year
    number = next_value(db, f"request-{year}")
    request = RepublishRequest(
        reference=f"RR-{year}-{number:05d}",
        token_hash=hash_token(token),
        article=article,
        created_at=utcnow(),
        **details,
    )
    db.add(request)
    apply_transition(db, request, Action.SUBMIT, actor="requester", initial=True)
    link = status_url(token)
    enqueue(db, request.requester_email, "request_received", request=request, article=article,
            status_url=link)
    for address in current_app.config["STAFF_NOTIFY_EMAILS"]:
        enqueue(db, address, "new_request", request=request, article=article)
    return request, token
