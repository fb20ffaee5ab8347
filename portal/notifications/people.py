"""E-mail about a request, to its requester or to the licensing desk: each one an outbox
row in the caller's transaction. Every domain (and every workflow) writes through these."""

from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy.orm import Session

from portal.notifications.outbox import enqueue
from portal.urls import link

if TYPE_CHECKING:
    from portal.licensing.models import Quote, RepublishRequest


def tell_requester(db: Session, request: "RepublishRequest", template: str,
                   **context: Any) -> None:
    """emails/<template> to the requester, with a fresh status-page link."""
    enqueue(db, request.requester_email, template, link_request_id=request.id, request=request,
            article=request.article, **context)


def requester_update(db: Session, request: "RepublishRequest", headline: str, lead: str,
                     details: list[str] | None = None, *,
                     button_text: str | None = None) -> None:
    """A short news e-mail to the requester: what happened (lead), then what to do."""
    tell_requester(db, request, "requester_update", headline=headline, lead=lead,
                   details=details or [], button_text=button_text)


def tell_staff(db: Session, request: "RepublishRequest", template: str, **context: Any) -> None:
    """emails/<template> to the desk's addresses, with a link to the request's page."""
    staff_url = link("staff.request_detail", reference=request.reference)
    for address in current_app.config["STAFF_NOTIFY_EMAILS"]:
        enqueue(db, address, template, request=request, article=request.article,
                staff_url=staff_url, **context)


def update_staff(db: Session, request: "RepublishRequest", headline: str, next_step: str,
                 *, body: str | None = None, quote: "Quote | None" = None) -> None:
    tell_staff(db, request, "staff_update", headline=headline, next_step=next_step,
               body=body, quote=quote)
