"""The audit log: who changed what (a request, a quote, a payment, a licence), from which
state to which, when and why. Shared by every domain; each lifecycle's service writes its
event in the same transaction as the change."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.db import Base, utcnow

if TYPE_CHECKING:
    from portal.licensing.models import RepublishRequest


class AuditEvent(Base):
    """One change, on its request's timeline."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    #: what changed: "request" (its state), "quote", "payment" or "licence"
    subject: Mapped[str] = mapped_column(String(16), default="request", server_default="request")
    #: "requester", "system", "provider:stripe", or "staff:<id>"
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped["RepublishRequest"] = relationship(back_populates="events")


def record_event(db: Session, request: "RepublishRequest", subject: str, action: str, *,
                 actor: str, before: str | None, after: str, reason: str | None = None) -> None:
    """Audit one change on its request's timeline, in the caller's transaction."""
    db.add(AuditEvent(request=request, subject=subject, actor=actor, action=action[:32],
                      from_state=before, to_state=after, reason=reason, created_at=utcnow()))
