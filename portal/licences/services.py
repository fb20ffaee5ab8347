"""Issuing licences and changing their status; each change is audited and the licensee told.

Called by portal.workflows (a confirmed payment, approval free of charge, a refund, a
dispute, a takedown) and by the time-based jobs, in the caller's transaction.
"""

import calendar
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import security_events
from portal.audit import record_event
from portal.db import utcnow
from portal.licences.lifecycle import ACTION_TO, LICENCES, LicenceAction, set_licence_status
from portal.licences.models import Licence, LicenceStatus, LicenceTerms
from portal.licensing.models import RepublishRequest
from portal.money import Money
from portal.notifications.people import requester_update, tell_requester
from portal.sequences import next_value
from portal.uow import DomainError


class LicenceAlreadyIssued(DomainError):
    """One request gets at most one licence (HTTP 409)."""

    status = 409


#: the first version of the terms, stored on first use
DEFAULT_TERMS_VERSION = "2026-1"
DEFAULT_TERMS = Path(__file__).with_name("terms_default.txt")


def current_terms(db: Session) -> LicenceTerms:
    """The newest terms text; the built-in first version is stored when there is none."""
    terms = db.scalar(select(LicenceTerms).order_by(LicenceTerms.id.desc()).limit(1))
    if terms is None:
        terms = LicenceTerms(version=DEFAULT_TERMS_VERSION, body=DEFAULT_TERMS.read_text(),
                             created_at=utcnow())
        db.add(terms)
        db.flush()  # its id, for the licence about to name it
    return terms


def publish_terms(db: Session, version: str, body: str, *, actor: str | None = None
                  ) -> LicenceTerms:
    """New terms for licences issued from now on (earlier licences keep theirs)."""
    version, body = version.strip(), body.strip()
    if not version or len(version) > 32 or not body:
        raise ValueError("Terms need a version (at most 32 characters) and a text.")
    if db.scalar(select(LicenceTerms).where(LicenceTerms.version == version)) is not None:
        raise ValueError(f"Terms version {version} exists already; terms are never edited "
                         "in place, so publish a new version.")
    terms = LicenceTerms(version=version, body=body, created_at=utcnow())
    db.add(terms)
    security_events.record(db, "terms_published", actor=actor, target=f"terms {version}",
                           detail=f"{len(body)} characters")
    return terms


#: what a licence copies from its request, so that it stands on its own
SCOPE_FIELDS = (
    "medium", "publication_name", "audience_band", "territory", "territory_country",
    "territory_region", "language", "translation_language", "portion", "excerpt_words", "term",
)


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
        **{name: getattr(request, name) for name in SCOPE_FIELDS},
        starts_on=starts_on,
        ends_on=ends_on,
        fee_minor=fee.minor,
        currency=fee.currency,
        payment_id=payment_id,
        terms_id=current_terms(db).id,
        issued_at=utcnow(),
    )
    licence.request = request
    db.add(licence)
    set_licence_status(db, licence, LicenceAction.ISSUE, actor=actor, reason=licence.number)
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
    action = ACTION_TO[status]
    if not LICENCES.can(licence.status, action):
        # Already so, or final (revoked, expired): a late event (a dispute closing after a
        # refund) changes nothing.
        return False
    set_licence_status(db, licence, action, actor=actor, reason=reason)
    licence.status_reason = None if status == LicenceStatus.ACTIVE else reason
    request = licence.request
    headline, lead = _STATUS_NEWS[status]
    requester_update(db, request, headline, lead.format(number=licence.number, reason=reason))
    return True


# -- Time: terms that end -------------------------------------------------------------------

#: the licensee is reminded this long before the term ends
RENEWAL_NOTICE = timedelta(days=14)


def expire_licences(db: Session, *, today: date | None = None) -> list[Licence]:
    """Mark licences whose term has ended expired (audited, licensee told)."""
    today = today or utcnow().date()
    ended = db.scalars(select(Licence).where(Licence.status == LicenceStatus.ACTIVE,
                                             Licence.ends_on.is_not(None),
                                             Licence.ends_on < today)
                       .order_by(Licence.id)).all()
    for licence in ended:
        licence.status_reason = f"its term ended on {licence.ends_on:%d %B %Y}"
        set_licence_status(db, licence, LicenceAction.EXPIRE, actor="system",
                           reason=licence.status_reason)
        request = licence.request
        requester_update(
                db, request,
                headline=f"licence {licence.number} has ended",
                lead=f"Your licence {licence.number} to republish “{request.article.title}” "
                     f"ended on {licence.ends_on:%d %B %Y}.",
                details=["Please take down the copy you published under it, or renew the "
                         "licence from your request page: the renewal form is filled in "
                         "with your earlier answers."],
                button_text="Renew the licence")
    return list(ended)


def remind_renewals(db: Session, *, today: date | None = None) -> list[Licence]:
    """Tell licensees whose term ends within 14 days, once, how to renew."""
    today = today or utcnow().date()
    due = db.scalars(select(Licence).where(Licence.status == LicenceStatus.ACTIVE,
                                           Licence.ends_on.is_not(None),
                                           Licence.ends_on >= today,
                                           Licence.ends_on <= today + RENEWAL_NOTICE,
                                           Licence.renewal_reminded_at.is_(None))
                     .order_by(Licence.id)).all()
    for licence in due:
        licence.renewal_reminded_at = utcnow()
        request = licence.request
        requester_update(
                db, request,
                headline=f"licence {licence.number} ends on {licence.ends_on:%d %B %Y}",
                lead=f"Your licence {licence.number} to republish “{request.article.title}” "
                     f"ends on {licence.ends_on:%d %B %Y}.",
                details=["To keep the article published after that, renew the licence from "
                         "your request page: the renewal form is filled in with your "
                         "earlier answers."],
                button_text="Renew the licence")
    return list(due)


# -- Corrections and takedowns --------------------------------------------------------------

def holders(db: Session, article_id: int, statuses: tuple[LicenceStatus, ...]
            ) -> list[Licence]:
    """The article's licences in these statuses."""
    return list(db.scalars(select(Licence).where(Licence.article_id == article_id,
                                                 Licence.status.in_(statuses))
                           .order_by(Licence.id)))


def tell_of_correction(db: Session, licence: Licence, *, copy_text: str) -> None:
    """E-mail the corrected copy to the holder of an active licence."""
    request = licence.request
    record_event(db, request, "licence", "correction_sent", actor="system",
                 before=licence.status.value, after=licence.status.value,
                 reason=f"article revision {licence.article.revision}")
    tell_requester(db, request, "licence_correction", licence=licence, copy_text=copy_text)
