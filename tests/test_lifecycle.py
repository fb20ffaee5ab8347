"""The transitions table: every state × every action, and the audit event of each change."""

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import AuditEvent
from portal.licensing.lifecycle import (
    TRANSITIONS,
    Action,
    InvalidTransition,
    RequestState,
    apply_transition,
    next_state,
)
from portal.licensing.models import RepublishRequest
from tests.factories import make_request

S, A = RequestState, Action
#: the whole table, written out again by hand: a change to the lifecycle must change both
EXPECTED = {
    (None, A.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, A.REQUEST_INFO): S.INFO_REQUESTED,
    (S.SUBMITTED, A.QUOTE): S.QUOTED,
    (S.SUBMITTED, A.APPROVE_FREE): S.LICENSED,
    (S.SUBMITTED, A.DECLINE): S.DECLINED,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.INFO_REQUESTED, A.ANSWER): S.SUBMITTED,
    (S.INFO_REQUESTED, A.DECLINE): S.DECLINED,
    (S.INFO_REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.QUOTED, A.QUOTE): S.QUOTED,
    (S.QUOTED, A.ACCEPT): S.AWAITING_PAYMENT,
    (S.QUOTED, A.DECLINE_QUOTE): S.WITHDRAWN,
    (S.QUOTED, A.APPROVE_FREE): S.LICENSED,
    (S.QUOTED, A.DECLINE): S.DECLINED,
    (S.QUOTED, A.WITHDRAW): S.WITHDRAWN,
    (S.QUOTED, A.EXPIRE): S.EXPIRED,
    (S.AWAITING_PAYMENT, A.CONFIRM_PAYMENT): S.LICENSED,
    (S.AWAITING_PAYMENT, A.QUOTE): S.QUOTED,
    (S.AWAITING_PAYMENT, A.DECLINE): S.DECLINED,
    (S.AWAITING_PAYMENT, A.WITHDRAW): S.WITHDRAWN,
    (S.AWAITING_PAYMENT, A.EXPIRE): S.EXPIRED,
    (S.EXPIRED, A.QUOTE): S.QUOTED,
}
ALL_PAIRS = [(state, action) for state in [None, *RequestState] for action in Action]


def test_the_table_is_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "action"), ALL_PAIRS,
                         ids=[f"{s.value if s else 'new'}-{a.value}" for s, a in ALL_PAIRS])
def test_every_state_and_action(state: RequestState | None, action: Action) -> None:
    if (state, action) in EXPECTED:
        assert next_state(state, action) == EXPECTED[state, action]
    else:
        with pytest.raises(InvalidTransition) as raised:
            next_state(state, action)
        assert action.value.replace("_", " ") in str(raised.value)


def test_final_states_allow_nothing() -> None:
    for state in (S.LICENSED, S.DECLINED, S.WITHDRAWN):
        assert not [a for a in Action if (state, a) in TRANSITIONS], state


def test_a_transition_writes_its_audit_event_in_the_same_transaction(
    app: Flask, db: Session
) -> None:
    req = make_request(app, db)
    with app.app_context():
        session = app.extensions["portal.db"].sessionmaker()
        loaded = session.get(RepublishRequest, req.id)
        apply_transition(session, loaded, A.DECLINE, actor="staff:7", reason="Out of scope")
        session.rollback()  # nothing of it is kept: neither the state nor its event
        session.close()
    db.expire_all()
    assert db.get(RepublishRequest, req.id).state == S.SUBMITTED
    assert [e.action for e in db.scalars(select(AuditEvent))] == ["submit"]


def test_an_invalid_action_changes_nothing(app: Flask, db: Session) -> None:
    req = make_request(app, db)
    session = app.extensions["portal.db"].sessionmaker()
    loaded = session.get(RepublishRequest, req.id)
    with pytest.raises(InvalidTransition, match="You cannot accept a request that is submitted"):
        apply_transition(session, loaded, A.ACCEPT, actor="requester")
    assert loaded.state == S.SUBMITTED
    session.close()
