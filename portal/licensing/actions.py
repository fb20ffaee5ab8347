"""Running one decision at a request boundary (a staff view or the requester's page).

Commits when the service succeeded; otherwise rolls back and says, for the person acting,
what went wrong and with which HTTP status.
"""

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.licensing.lifecycle import InvalidTransition
from portal.licensing.services import Conflict, QuoteError
from portal.payments.provider import ProviderError, ProviderUnavailable
from portal.payments.services import PaymentError

#: what the buyer or staff read when a payment provider fails; nothing was kept
PROVIDER_DOWN = ("The payment provider could not be reached, so nothing was charged and "
                 "nothing changed here. Please try again in a minute.")


def commit_or_explain(db: Session, act: Callable[[], object]) -> tuple[int, str] | None:
    """None when `act` ran and was committed, else (status, message) with nothing kept."""
    try:
        act()
        db.commit()
    except (InvalidTransition, Conflict) as error:
        db.rollback()
        return 409, str(error)
    except (StaleDataError, IntegrityError):
        # The version column (or a unique key) caught a concurrent change at flush time:
        # a double click, or two people acting at once.
        db.rollback()
        return 409, str(Conflict())
    except OperationalError:  # a lock not granted in time (SQLite busy, a deadlock)
        db.rollback()
        return 503, "The portal is busy; nothing was changed. Please try again in a moment."
    except (QuoteError, PaymentError) as error:
        db.rollback()
        return 422, str(error)
    except ProviderUnavailable:
        db.rollback()
        return 503, PROVIDER_DOWN
    except ProviderError:  # the detail is in the log, not for the buyer's eyes
        db.rollback()
        return 502, ("The payment provider refused the request, so nothing was charged and "
                     "nothing changed here. Please try again, or write to the licensing desk.")
    return None
