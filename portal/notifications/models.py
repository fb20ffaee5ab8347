"""The e-mail outbox: every e-mail is a row written in the transaction that caused it."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    #: given up: its retries spanned OUTBOX_GIVE_UP_AFTER_HOURS (or reached OUTBOX_MAX_ATTEMPTS),
    #: or the server refused it for good
    FAILED = "failed"


#: stands in an outbox body for the requester's status-page URL until the moment of sending
LINK_PLACEHOLDER = "[[status-link]]"


class OutboxEmail(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    #: the template it was rendered from, e.g. "request_received"
    template: Mapped[str] = mapped_column(String(100))
    #: the request whose status-page link the bodies carry as LINK_PLACEHOLDER: the sender
    #: mints a fresh token for it at send time, so no token is ever stored in the clear
    link_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("requests.id", ondelete="SET NULL")
    )
    #: Message-ID header; fixed at creation so a retried delivery is the same message
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            native_enum=False,
            length=16,
            values_callable=lambda statuses: [s.value for s in statuses],
        ),
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: a sender that claimed the row holds it until then (a crashed sender's claim runs out)
    locked_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
