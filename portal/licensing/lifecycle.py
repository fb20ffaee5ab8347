"""The lifecycles of requests and of their quotes: states, and the one table of allowed
transitions of each.

Only apply_transition() assigns a request's state and only set_quote_status() a quote's,
and each writes the audit event in the same breath (same transaction), so no change goes
unrecorded.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from portal.audit import record_event
from portal.db import utcnow
from portal.lifecycle import InvalidTransition, Lifecycle

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from portal.licensing.models import Quote, RepublishRequest

__all__ = ["InvalidTransition"]


class RequestState(StrEnum):
    SUBMITTED = "submitted"
    INFO_REQUESTED = "info_requested"
    QUOTED = "quoted"
    AWAITING_PAYMENT = "awaiting_payment"
    LICENSED = "licensed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


#: what a requester reads for each state
STATE_LABELS = {
    RequestState.SUBMITTED: "Received, waiting for review",
    RequestState.INFO_REQUESTED: "We need more information from you",
    RequestState.QUOTED: "Quote ready",
    RequestState.AWAITING_PAYMENT: "Waiting for payment",
    RequestState.LICENSED: "Licensed",
    RequestState.DECLINED: "Declined",
    RequestState.WITHDRAWN: "Withdrawn",
    RequestState.EXPIRED: "Expired",
}


#: the back office's short names
STATE_SHORT_LABELS = {
    RequestState.SUBMITTED: "New",
    RequestState.INFO_REQUESTED: "Asked for info",
    RequestState.QUOTED: "Quoted",
    RequestState.AWAITING_PAYMENT: "Awaiting payment",
    RequestState.LICENSED: "Licensed",
    RequestState.DECLINED: "Declined",
    RequestState.WITHDRAWN: "Withdrawn",
    RequestState.EXPIRED: "Expired",
}


class Action(StrEnum):
    SUBMIT = "submit"
    REQUEST_INFO = "request_info"
    ANSWER = "answer"
    QUOTE = "quote"
    ACCEPT = "accept"
    DECLINE_QUOTE = "decline_quote"
    CONFIRM_PAYMENT = "confirm_payment"
    APPROVE_FREE = "approve_free"
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"


S, A = RequestState, Action

#: (state before, action) -> state after. None is "no request yet".
TRANSITIONS: dict[tuple[RequestState | None, Action], RequestState] = {
    (None, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.REQUEST_INFO): S.INFO_REQUESTED,
    (S.INFO_REQUESTED, A.ANSWER): S.SUBMITTED,
    (S.SUBMITTED, A.QUOTE): S.QUOTED,
    (S.QUOTED, A.QUOTE): S.QUOTED,  # re-quote: a new quote version
    (S.EXPIRED, A.QUOTE): S.QUOTED,
    # Staff re-quote a request whose quote was accepted but not paid (its checkout closes).
    (S.AWAITING_PAYMENT, A.QUOTE): S.QUOTED,
    (S.QUOTED, A.ACCEPT): S.AWAITING_PAYMENT,
    (S.QUOTED, A.DECLINE_QUOTE): S.WITHDRAWN,  # the requester turns the quote down
    (S.AWAITING_PAYMENT, A.CONFIRM_PAYMENT): S.LICENSED,
    (S.SUBMITTED, A.APPROVE_FREE): S.LICENSED,
    (S.QUOTED, A.APPROVE_FREE): S.LICENSED,
    (S.SUBMITTED, A.DECLINE): S.DECLINED,
    (S.INFO_REQUESTED, A.DECLINE): S.DECLINED,
    (S.QUOTED, A.DECLINE): S.DECLINED,
    (S.AWAITING_PAYMENT, A.DECLINE): S.DECLINED,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.INFO_REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.QUOTED, A.WITHDRAW): S.WITHDRAWN,
    (S.AWAITING_PAYMENT, A.WITHDRAW): S.WITHDRAWN,
    (S.QUOTED, A.EXPIRE): S.EXPIRED,
    (S.AWAITING_PAYMENT, A.EXPIRE): S.EXPIRED,
}
REQUESTS: Lifecycle[RequestState, Action] = Lifecycle("request", TRANSITIONS)


def allowed_actions(state: RequestState | None) -> set[str]:
    """The actions the table allows in `state` (pages show only those buttons)."""
    return REQUESTS.allowed(state)


def next_state(state: RequestState | None, action: Action) -> RequestState:
    return REQUESTS.next_state(state, action)


def apply_transition(
    db: "Session",
    request: "RepublishRequest",
    action: Action,
    *,
    actor: str,
    reason: str | None = None,
    initial: bool = False,
) -> None:
    """Move the request on by `action` and record who did it, when, and why."""
    before = None if initial else request.state
    after = next_state(before, action)
    request.state = after
    # Touching the row even when the state stays the same (a re-quote) makes every
    # transition an UPDATE of the request, so its version column turns away a concurrent
    # action that read the request before this one.
    request.updated_at = utcnow()
    record_event(db, request, "request", action.value, actor=actor,
                 before=before.value if before else None, after=after.value, reason=reason)


# -- Quotes ---------------------------------------------------------------------------------

class QuoteStatus(StrEnum):
    #: the current offer, open for acceptance until valid_until
    OPEN = "open"
    ACCEPTED = "accepted"
    #: the requester declined it
    DECLINED = "declined"
    #: replaced by a newer version
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    #: the request was withdrawn, declined or approved free while this quote was open
    VOID = "void"


class QuoteAction(StrEnum):
    OFFER = "offer"
    ACCEPT = "accept"
    DECLINE = "decline"
    SUPERSEDE = "supersede"
    EXPIRE = "expire"
    VOID = "void"


Q, QA = QuoteStatus, QuoteAction
QUOTE_TRANSITIONS: dict[tuple[QuoteStatus | None, QuoteAction], QuoteStatus] = {
    (None, QA.OFFER): Q.OPEN,
    (Q.OPEN, QA.ACCEPT): Q.ACCEPTED,
    (Q.OPEN, QA.DECLINE): Q.DECLINED,
    # Closing the quote still in play: open, or accepted and waiting for payment.
    **{(state, action): target
       for state in (Q.OPEN, Q.ACCEPTED)
       for action, target in ((QA.SUPERSEDE, Q.SUPERSEDED), (QA.EXPIRE, Q.EXPIRED),
                              (QA.VOID, Q.VOID))},
}
QUOTES: Lifecycle[QuoteStatus, QuoteAction] = Lifecycle("quote", QUOTE_TRANSITIONS)


def set_quote_status(db: "Session", quote: "Quote", action: QuoteAction, *, actor: str,
                     reason: str | None = None) -> None:
    """Move the quote on by `action`, audited on its request's timeline."""
    before = quote.status
    after = QUOTES.next_state(before, action)
    quote.status = after
    record_event(db, quote.request, "quote", f"quote_{action.value}", actor=actor,
                 before=before.value if before else None, after=after.value,
                 reason=reason or f"version {quote.version}")
