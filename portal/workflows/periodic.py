"""The portal's time-based work, each piece run by the periodic job runner (portal/jobs) or
by hand from its own command. Each takes a session and ``say(line, is_problem)`` for
progress, and returns a summary line; an exception means it failed."""

from collections.abc import Callable

from sqlalchemy.orm import Session

from portal.licences.services import expire_licences, remind_renewals
from portal.licensing.services import expire_quotes
from portal.uow import unit_of_work
from portal.workflows.providers import reconcile

Say = Callable[[str, bool], None]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def expire_requests(db: Session, say: Say) -> str:
    with unit_of_work(db):
        expired = expire_quotes(db)
        for request in expired:
            say(f"  expired   {request.reference}  {request.requester_email}", False)
    return f"Expired {_plural(len(expired), 'quote')}."


def expire_and_remind_licences(db: Session, say: Say) -> str:
    with unit_of_work(db):
        ended = expire_licences(db)
        for licence in ended:
            say(f"  expired   {licence.number}  {licence.licensee}", False)
        reminded = remind_renewals(db)
        for licence in reminded:
            say(f"  reminded  {licence.number}  ends {licence.ends_on:%Y-%m-%d}", False)
    return (f"Expired {_plural(len(ended), 'licence')}; reminded {len(reminded)} of an end "
            "within 14 days.")


def reconcile_payments(db: Session, say: Say) -> str:
    result = reconcile(db, say)
    if not result.complete:
        raise RuntimeError(f"not every payment could be checked: {result.summary()}")
    return result.summary()
