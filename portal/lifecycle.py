"""Lifecycles as tables: (state before, action) -> state after, for every kind of record.

Each domain declares its table with `Lifecycle`; its service alone assigns the status, by
`next_state`, and records the audit event in the same breath. A move the table does not
hold raises InvalidTransition (HTTP 409).
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from portal.uow import DomainError

S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


class InvalidTransition(DomainError):
    """The action is not allowed in the record's current state (HTTP 409); security-logged."""

    status = 409
    security_event = "transition_refused"

    def __init__(self, subject: str, state: StrEnum | None, action: StrEnum) -> None:
        self.subject, self.state, self.action = subject, state, action
        where = (f"a {subject} that is {state.value.replace('_', ' ')}" if state
                 else f"no {subject}")
        super().__init__(f"You cannot {action.value.replace('_', ' ')} {where}.")


class Lifecycle(Generic[S, A]):
    """One record kind's table of transitions."""

    def __init__(self, subject: str, transitions: Mapping[tuple[S | None, A], S]) -> None:
        self.subject = subject
        self.transitions = dict(transitions)

    def next_state(self, state: S | None, action: A) -> S:
        try:
            return self.transitions[state, action]
        except KeyError:
            raise InvalidTransition(self.subject, state, action) from None

    def can(self, state: S | None, action: A) -> bool:
        return (state, action) in self.transitions

    def allowed(self, state: S | None) -> set[str]:
        """The actions the table allows in `state` (pages show only those buttons)."""
        return {action.value for (before, action) in self.transitions if before == state}
