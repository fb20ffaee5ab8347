"""The request lifecycle: its states, the one table of allowed transitions, and the audit log.

Only apply_transition() assigns a request's state, and it writes the audit event in the same
breath (same transaction), so no state change goes unrecorded.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from portal.db import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from portal.licensing.models import RepublishRequest


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


class InvalidTransition(Exception):
    """The action is not allowed in the request's current state (HTTP 409)."""

    def __init__(self, state: RequestState | None, action: Action) -> None:
        self.state, self.action = state, action
        where = f"a request that is {state.value.replace('_', ' ')}" if state else "no request"
        super().__init__(f"You cannot {action.value.replace('_', ' ')} {where}.")


def allowed_actions(state: RequestState | None) -> set[str]:
    """The actions the table allows in `state` (pages show only those buttons)."""
    return {action.value for (before, action) in TRANSITIONS if before == state}


def next_state(state: RequestState | None, action: Action) -> RequestState:
    try:
        return TRANSITIONS[state, action]
    except KeyError:
        raise InvalidTransition(state, action) from None


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
    from portal.licensing.models import AuditEvent

    before = None if initial else request.state
    after = next_state(before, action)
    request.state = after
    # Touching the row even when the state stays the same (a re-quote) makes every
    # transition an UPDATE of the request, so its version column turns away a concurrent
    # action that read the request before this one.
    request.updated_at = utcnow()
    db.add(
        AuditEvent(
            request=request,
            actor=actor,
            action=action.value,
            from_state=before.value if before else None,
            to_state=after.value,
            reason=reason,
            created_at=utcnow(),
        )
    )


def record_event(
    db: "Session",
    request: "RepublishRequest",
    subject: str,
    action: str,
    *,
    actor: str,
    before: str | None,
    after: str,
    reason: str | None = None,
) -> None:
    """Audit a change of a payment's or a licence's status on its request's timeline."""
    from portal.licensing.models import AuditEvent

    db.add(AuditEvent(request=request, subject=subject, actor=actor, action=action,
                      from_state=before, to_state=after, reason=reason, created_at=utcnow()))
