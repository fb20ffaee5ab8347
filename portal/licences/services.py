"""Issuing licences and changing their status; each change is audited and the licensee told.

Called by the payment services (a confirmed payment, a refund, a dispute) and by the
licensing services (approval free of charge), in the caller's transaction.
"""

import calendar
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.licences.models import Licence, LicenceStatus
from portal.licensing.lifecycle import record_event
from portal.licensing.models import RepublishRequest
from portal.money import Money
from portal.notifications.outbox import enqueue
from portal.sequences import next_value


class LicenceAlreadyIssued(Exception):
    """One request gets at most one licence."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_dates(term: str, start: date) -> tuple[date, date | None]:
    if term == "one_month":
        return start, add_months(start, 1)
    if term == "one_year":
        return start, add_months(start, 12)
    return start, None


def licence_of(db: Session, request: RepublishRequest) -> Licence | None:
    return db.scalar(select(Licence).where(Licence.request_id == request.id))


def issue_licence(db: Session, request: RepublishRequest, *, fee: Money, actor: str,
                  payment_id: int | None = None) -> Licence:
    """Grant the licence the request asked for. The caller has moved it to licensed."""
    if licence_of(db, request) is not None:
        raise LicenceAlreadyIssued(request.reference)
    today = utcnow().date()
    starts_on, ends_on = term_dates(request.term, max(request.start_date, today))
    year = utcnow().year
    licence = Licence(
        number=f"LIC-{year}-{next_value(db, f'licence-{year}'):06d}",
        request_id=request.id,
        article_id=request.article_id,
        article_revision=request.article.revision,
        licensee=request.organisation,
        medium=request.medium,
        publication_name=request.publication_name,
        audience_band=request.audience_band,
        territory=request.territory,
        territory_country=request.territory_country,
        territory_region=request.territory_region,
        language=request.language,
        translation_language=request.translation_language,
        portion=request.portion,
        excerpt_words=request.excerpt_words,
        term=request.term,
        starts_on=starts_on,
        ends_on=ends_on,
        fee_minor=fee.minor,
        currency=fee.currency,
        payment_id=payment_id,
        status=LicenceStatus.ACTIVE,
        issued_at=utcnow(),
    )
    db.add(licence)
    record_event(db, request, "licence", "issue_licence", actor=actor, before=None,
                 after=LicenceStatus.ACTIVE.value, reason=licence.number)
    return licence


_STATUS_NEWS = {
    LicenceStatus.SUSPENDED: ("licence suspended",
                              "Your licence {number} is suspended: {reason}. Please do not "
                              "publish the text until it is restored."),
    LicenceStatus.REVOKED: ("licence revoked",
                            "Your licence {number} is revoked: {reason}. Please take down any "
                            "copy you published under it."),
    LicenceStatus.ACTIVE: ("licence restored",
                           "Your licence {number} is active again: {reason}."),
}


def set_status(db: Session, licence: Licence, status: LicenceStatus, *, reason: str,
               actor: str) -> bool:
    """Move the licence to `status` (audited, licensee told). False when it already was."""
    if licence.status == status:
        return False
    if licence.status in (LicenceStatus.REVOKED, LicenceStatus.EXPIRED):
        # Final: a late event (a dispute closing after a refund) changes nothing.
        return False
    before = licence.status
    licence.status = status
    licence.status_reason = None if status == LicenceStatus.ACTIVE else reason
    request = licence.request
    record_event(db, request, "licence", f"licence_{status.value}", actor=actor,
                 before=before.value, after=status.value, reason=reason)
    headline, lead = _STATUS_NEWS[status]
    enqueue(db, request.requester_email, "requester_update", link_request_id=request.id,
            request=request, article=request.article, headline=headline,
            lead=lead.format(number=licence.number, reason=reason))
    return True
