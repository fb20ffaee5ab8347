"""Business rules of republishing requests: submit, quote, decide, and the requester's answers.

Views and workflows call these with the actor and the inputs; services never see
flask.request. Each state change goes through the lifecycle (which writes the audit event)
and each e-mail is an outbox row, all in the caller's transaction: the caller commits once.
What a decision means for payments and licences (closing a checkout, issuing a licence) is
portal.workflows' business, never this module's.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.articles.models import Article
from portal.db import utcnow
from portal.licensing.lifecycle import (
    Action,
    QuoteAction,
    QuoteStatus,
    RequestState,
    apply_transition,
    next_state,
    set_quote_status,
)
from portal.licensing.models import (
    MessageKind,
    Quote,
    RepublishRequest,
    RequestMessage,
    RequestToken,
)
from portal.licensing.pricing import is_within_autoquote, suggest
from portal.licensing.ratecard import load_rate_card
from portal.money import Money
from portal.notifications.people import (
    requester_update,
    tell_requester,
    tell_staff,
    update_staff,
)
from portal.sequences import next_value
from portal.uow import Conflict, DomainError
from portal.urls import link

__all__ = ["Conflict"]

#: the largest fee staff may quote, in major units: a typo guard, and within what Stripe
#: Checkout can charge (99,999,999 minor units)
MAX_QUOTE_MAJOR = 999_999
#: how far ahead a quote may stay open (the rate card's validity is bounded by it too)
MAX_QUOTE_VALIDITY_DAYS = 180
MAX_QUOTE_VALIDITY = timedelta(days=MAX_QUOTE_VALIDITY_DAYS)
REQUESTER = "requester"
SYSTEM = "system"


class ArticleNotLicensable(DomainError):
    """The publisher does not license this article (HTTP 409)."""

    status = 409


class QuoteError(DomainError):
    """A quote that cannot be made or accepted as given (HTTP 422)."""


# -- Status-page tokens ---------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenMatch:
    """The request a status token opens, and whether the token has outlived its lifetime."""

    request: RepublishRequest
    minted_at: datetime
    is_expired: bool


def match_token(db: Session, token: str, *, lifetime: timedelta | None,
                now: datetime | None = None) -> TokenMatch | None:
    """The request behind a status token, live or expired; None when no token matches.

    A token works for `lifetime` from when it was minted (each e-mail mints its own)."""
    if not 20 <= len(token) <= 100:
        return None
    row = db.execute(
        select(RepublishRequest, RequestToken.created_at)
        .join(RequestToken, RequestToken.request_id == RepublishRequest.id)
        .where(RequestToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        return None
    request, minted_at = row
    is_expired = lifetime is not None and minted_at + lifetime <= (now or utcnow())
    return TokenMatch(request=request, minted_at=minted_at, is_expired=is_expired)


def find_by_token(db: Session, token: str, *, lifetime: timedelta | None = None
                  ) -> RepublishRequest | None:
    """The request a token opens; with `lifetime`, only while the token is live."""
    found = match_token(db, token, lifetime=lifetime)
    if found is None or found.is_expired:
        return None
    return found.request


#: requests whose requester may still need their status page (a licence holder fetches the
#: licensed copy and certificate from it)
LIVE_STATES = (RequestState.SUBMITTED, RequestState.INFO_REQUESTED, RequestState.QUOTED,
               RequestState.AWAITING_PAYMENT, RequestState.LICENSED)


def live_requests_of(db: Session, email: str, *, most: int = 20) -> list[RepublishRequest]:
    """The newest live requests made with this e-mail address (compared case-insensitively)."""
    address = email.strip().lower()
    if not address:
        return []
    return list(db.scalars(
        select(RepublishRequest)
        .where(func.lower(RepublishRequest.requester_email) == address,
               RepublishRequest.state.in_(LIVE_STATES))
        .order_by(RepublishRequest.id.desc()).limit(most)))


def send_fresh_link(db: Session, request: RepublishRequest, *, days: int) -> None:
    """E-mail the requester, at the request's own address, a new link to its status page
    (minted by the outbox as the message is sent, so it works for `days` from then)."""
    requester_update(
        db, request, "a new link to your request",
        f"Here is a new link to your request to republish “{request.article.title}”, as "
        "asked for on our site.",
        [f"The link works for {days} days. If you did not ask for it, you can ignore this "
         "e-mail: the link is sent only to you."],
        button_text="Open your request")


def new_status_token(db: Session, request_id: int) -> str:
    """A fresh random token (256 bits) for a request's status page.

    Only its hash is stored. The token exists in the clear just long enough to go into one
    e-mail as it is sent (see mint_status_url) or into the confirmation redirect, so each
    e-mail carries a working link of its own and none rests in the database.
    """
    token = secrets.token_urlsafe(32)
    db.add(RequestToken(request_id=request_id, token_hash=hash_token(token), created_at=utcnow()))
    return token


def mint_status_url(db: Session, request_id: int) -> str:
    """The outbox sender's hook: a new status-page URL for the e-mail it is sending."""
    return link("public.request_status", token=new_status_token(db, request_id))


# -- Guards ---------------------------------------------------------------------------------

def lock_request(db: Session, request_id: int) -> RepublishRequest:
    """The request, re-read under its row lock (PostgreSQL; SQLite has one writer at a
    time), so that what is decided next rests on its state as committed, not on a copy read
    earlier in this session."""
    found = db.scalars(select(RepublishRequest).where(RepublishRequest.id == request_id)
                       .with_for_update().execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise Conflict("This request no longer exists.")
    return found


def _check_version(request: RepublishRequest, expected_version: int | None) -> None:
    if expected_version is not None and request.version != expected_version:
        raise Conflict()


def _close_open_quote(db: Session, request: RepublishRequest, action: QuoteAction, *,
                      actor: str) -> Quote | None:
    """Close the quote still in play: open, or accepted and waiting for payment."""
    quote = request.current_quote
    if quote is not None and quote.status in (QuoteStatus.OPEN, QuoteStatus.ACCEPTED):
        set_quote_status(db, quote, action, actor=actor)
        return quote
    return None


def _message(db: Session, request: RepublishRequest, kind: MessageKind, author: str,
             body: str) -> None:
    db.add(RequestMessage(request=request, kind=kind, author=author, body=body,
                          created_at=utcnow()))


# -- Submission -----------------------------------------------------------------------------

def submit_request(
    db: Session, article: Article, details: dict[str, Any], *, currencies: list[str]
) -> tuple[RepublishRequest, str]:
    """Store a new request, audit it, and queue the requester's and the desk's e-mails.

    Returns the request and a status-page token for the confirmation redirect.
    """
    if not article.is_licensable:
        raise ArticleNotLicensable(article.rights_reason or "This article is not licensable.")
    year = utcnow().year
    number = next_value(db, f"request-{year}")
    request = RepublishRequest(
        reference=f"RR-{year}-{number:05d}", article=article, created_at=utcnow(), **details
    )
    db.add(request)
    apply_transition(db, request, Action.SUBMIT, actor=REQUESTER, initial=True)
    db.flush()  # the request's id, for its status token and its e-mails' links
    tell_requester(db, request, "request_received")
    tell_staff(db, request, "new_request")
    _auto_quote(db, request, currencies)
    return request, new_status_token(db, request.id)


def _auto_quote(db: Session, request: RepublishRequest, currencies: list[str]
                ) -> Quote | None:
    """Quote at once, as the system, when the rate card prices the request within its
    auto-quote bounds; everything else waits for staff."""
    card = load_rate_card(db)
    if card is None:
        return None
    suggestion = suggest(card, request, price_tier=request.article.price_tier)
    if suggestion is None or not is_within_autoquote(card, suggestion):
        return None
    days = min(card.quote_validity_days, MAX_QUOTE_VALIDITY_DAYS - 1)
    last_day = utcnow().date() + timedelta(days=days)
    offer = QuoteInput(
        fee=suggestion.fee, valid_until=datetime.combine(last_day, time(23, 59, 59), UTC),
        suggested=suggestion.fee, breakdown=suggestion.lines,
    )
    try:
        # A savepoint: a suggestion no quote may carry (a zero fee, a currency no longer
        # accepted) leaves the request for staff instead of failing the submission.
        with db.begin_nested():
            return quote(db, request, offer, actor=SYSTEM, currencies=currencies)
    except QuoteError:
        return None


# -- Staff decisions ------------------------------------------------------------------------

@dataclass(frozen=True)
class QuoteInput:
    fee: Money
    valid_until: datetime
    terms_note: str | None = None
    #: the rate card's suggestion and its breakdown lines, when it had one
    suggested: Money | None = None
    breakdown: list[tuple[str, str]] | None = None
    override_reason: str | None = None


def quote(db: Session, request: RepublishRequest, offer: QuoteInput, *, actor: str,
          currencies: list[str], expected_version: int | None = None) -> Quote:
    """Offer a fee in one of `currencies`. Re-quoting makes a new version and supersedes
    the open one (the workflow then closes the old quote's checkouts)."""
    _check_version(request, expected_version)
    if offer.fee.currency not in currencies:
        raise QuoteError(f"Quotes are in {', '.join(currencies)}; {offer.fee.currency} is not "
                         "accepted.")
    if offer.fee.minor <= 0:
        raise QuoteError("A quote must be more than zero; to license for free, approve free "
                         "of charge instead.")
    if offer.fee.decimal > MAX_QUOTE_MAJOR or offer.fee.minor > 99_999_999:
        raise QuoteError(f"That is more than {MAX_QUOTE_MAJOR:,} {offer.fee.currency}; check "
                         "the amount.")
    now = utcnow()
    if offer.valid_until <= now:
        raise QuoteError("The quote's validity must end in the future.")
    if offer.valid_until > now + MAX_QUOTE_VALIDITY:
        raise QuoteError(f"A quote may stay open for at most {MAX_QUOTE_VALIDITY_DAYS} days.")
    reason = (offer.override_reason or "").strip() or None
    if offer.suggested is not None and offer.fee != offer.suggested and reason is None:
        raise QuoteError(f"The rate card suggests {offer.suggested}; give a reason when you "
                         "quote another amount.")
    apply_transition(db, request, Action.QUOTE, actor=actor, reason=reason)
    _close_open_quote(db, request, QuoteAction.SUPERSEDE, actor=actor)
    new = Quote(
        request=request,
        version=len(request.quotes) + 1,
        amount_minor=offer.fee.minor,
        currency=offer.fee.currency,
        valid_until=offer.valid_until,
        terms_note=(offer.terms_note or "").strip() or None,
        suggested_minor=offer.suggested.minor if offer.suggested else None,
        # The rate card's lines explain the fee only when the fee is the suggestion.
        breakdown=([list(line) for line in offer.breakdown]
                   if offer.breakdown and offer.fee == offer.suggested else None),
        override_reason=reason,
        created_by=actor,
        created_at=now,
    )
    db.add(new)
    set_quote_status(db, new, QuoteAction.OFFER, actor=actor)
    tell_requester(db, request, "quote_ready", quote=new)
    return new


def approve_free(db: Session, request: RepublishRequest, *, actor: str, note: str | None,
                 default_currency: str, expected_version: int | None = None) -> Money:
    """License free of charge; returns the fee (zero, in the open quote's currency). The
    workflow issues the licence and tells the requester."""
    _check_version(request, expected_version)
    apply_transition(db, request, Action.APPROVE_FREE, actor=actor, reason=note)
    closed = _close_open_quote(db, request, QuoteAction.VOID, actor=actor)
    return Money(0, closed.currency if closed else default_currency)


def decline(db: Session, request: RepublishRequest, *, actor: str, reason: str,
            expected_version: int | None = None) -> None:
    _check_version(request, expected_version)
    apply_transition(db, request, Action.DECLINE, actor=actor, reason=reason)
    _close_open_quote(db, request, QuoteAction.VOID, actor=actor)
    _message(db, request, MessageKind.DECLINE, actor, reason)
    tell_requester(db, request, "declined", reason=reason)


def request_info(db: Session, request: RepublishRequest, *, actor: str, question: str,
                 expected_version: int | None = None) -> None:
    _check_version(request, expected_version)
    apply_transition(db, request, Action.REQUEST_INFO, actor=actor, reason=question)
    _message(db, request, MessageKind.QUESTION, actor, question)
    tell_requester(db, request, "info_requested", question=question)


def add_note(db: Session, request: RepublishRequest, *, actor: str, body: str) -> None:
    """An internal note: on the timeline for staff, never shown to the requester."""
    _message(db, request, MessageKind.NOTE, actor, body)


# -- The requester's answers ----------------------------------------------------------------

def answer(db: Session, request: RepublishRequest, *, body: str) -> None:
    apply_transition(db, request, Action.ANSWER, actor=REQUESTER)
    _message(db, request, MessageKind.ANSWER, REQUESTER, body)
    update_staff(db, request, "the requester answered your question",
                  "Review the request again: quote, decline, or ask another question.", body=body)


def check_acceptable(request: RepublishRequest, *, quote_version: int) -> None:
    """Raise unless the requester may accept the quote they saw now (nothing changes)."""
    current = request.current_quote
    if request.state == RequestState.QUOTED and (
        current is None or current.version != quote_version or current.status != QuoteStatus.OPEN
    ):
        raise Conflict()
    if current is not None and current.valid_until <= utcnow():
        raise QuoteError("This quote has expired. Write to the licensing desk for a new one.")
    next_state(request.state, Action.ACCEPT)  # InvalidTransition when it cannot be accepted


def confirm_payment(db: Session, request: RepublishRequest, *, actor: str, reason: str) -> None:
    """The payment the request waited for is confirmed by its provider."""
    apply_transition(db, request, Action.CONFIRM_PAYMENT, actor=actor, reason=reason)


def accept_quote(db: Session, request: RepublishRequest, *, quote_version: int) -> Quote:
    """Accept the open quote the requester saw (by its version), while it is valid."""
    check_acceptable(request, quote_version=quote_version)
    current = request.current_quote
    apply_transition(db, request, Action.ACCEPT, actor=REQUESTER)
    assert current is not None  # QUOTED always has an open quote
    set_quote_status(db, current, QuoteAction.ACCEPT, actor=REQUESTER)
    tell_requester(db, request, "quote_accepted", quote=current)
    update_staff(db, request, "the requester accepted the quote",
                  "Payment is next; nothing to do until it is confirmed.", quote=current)
    return current


def decline_quote(db: Session, request: RepublishRequest, *, quote_version: int,
                  message: str | None) -> None:
    """The requester turns down the quote they saw: the request ends as withdrawn."""
    current = request.current_quote
    if request.state == RequestState.QUOTED and (current is None
                                                 or current.version != quote_version):
        raise Conflict()
    apply_transition(db, request, Action.DECLINE_QUOTE, actor=REQUESTER, reason=message)
    _close_open_quote(db, request, QuoteAction.DECLINE, actor=REQUESTER)
    if message:
        _message(db, request, MessageKind.REQUESTER, REQUESTER, message)
    update_staff(db, request, "the requester declined the quote",
                  "The request is closed as withdrawn.", body=message)


def withdraw(db: Session, request: RepublishRequest, *, message: str | None) -> None:
    apply_transition(db, request, Action.WITHDRAW, actor=REQUESTER, reason=message)
    _close_open_quote(db, request, QuoteAction.VOID, actor=REQUESTER)
    if message:
        _message(db, request, MessageKind.REQUESTER, REQUESTER, message)
    update_staff(db, request, "the requester withdrew the request", "Nothing more to do.",
                  body=message)


# -- Time -----------------------------------------------------------------------------------

def expire_quotes(db: Session, *, now: datetime | None = None) -> list[RepublishRequest]:
    """Expire requests whose quote ran out: quoted ones, and accepted ones that were not
    paid (unless a payment is still under way: its outcome decides), and tell requesters."""
    from portal.payments.models import Payment, PaymentStatus

    now = now or utcnow()
    payment_under_way = (
        select(Payment.id)
        .where(Payment.request_id == RepublishRequest.id,
               Payment.status.in_([PaymentStatus.OPEN, PaymentStatus.PROCESSING]))
        .exists()
    )
    due = db.scalars(
        select(RepublishRequest)
        .join(Quote, Quote.request_id == RepublishRequest.id)
        .where(
            Quote.valid_until <= now,
            ((RepublishRequest.state == RequestState.QUOTED) & (Quote.status == QuoteStatus.OPEN))
            | ((RepublishRequest.state == RequestState.AWAITING_PAYMENT)
               & (Quote.status == QuoteStatus.ACCEPTED) & ~payment_under_way),
        )
        .order_by(RepublishRequest.id)
    ).all()
    expired_requests = []
    for request in due:
        try:
            # One savepoint each: a request that changed meanwhile (accepted a moment ago)
            # is left as it is, and the others still expire.
            with db.begin_nested():
                apply_transition(db, request, Action.EXPIRE, actor=SYSTEM,
                                 reason="the quote's validity ended")
                expired = _close_open_quote(db, request, QuoteAction.EXPIRE, actor=SYSTEM)
                tell_requester(db, request, "quote_expired", quote=expired)
        except StaleDataError:
            continue
        expired_requests.append(request)
    return expired_requests
