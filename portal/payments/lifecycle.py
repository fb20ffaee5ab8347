"""The payment lifecycle: one attempt to pay one quote with one provider.

A payment is recorded once its provider made the checkout (open); it is paid, clearing,
failed or expired as the provider reports; once money arrived it may be refunded in part or
in full, disputed, and won back or charged back. Money that arrives for a checkout the
portal had closed is still recorded (and held for staff). Only set_payment_status()
assigns a status, and it writes the audit event.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from portal.audit import record_event
from portal.lifecycle import Lifecycle
from portal.payments.models import PaymentStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from portal.payments.models import Payment


class PaymentAction(StrEnum):
    START = "start"
    CLEAR = "clear"  # completed with a bank payment that takes time
    RECEIVE = "receive"
    FAIL = "fail"
    EXPIRE = "expire"
    REFUND_PART = "refund_part"
    REFUND_ALL = "refund_all"
    DISPUTE = "dispute"
    WIN = "win"  # the dispute closed in the publisher's favour
    WIN_AFTER_REFUND = "win_after_refund"
    LOSE = "lose"  # the dispute was lost: charged back


P, PA = PaymentStatus, PaymentAction
TRANSITIONS: dict[tuple[PaymentStatus | None, PaymentAction], PaymentStatus] = {
    (None, PA.START): P.OPEN,
    (P.OPEN, PA.CLEAR): P.PROCESSING,
    **{(state, PA.RECEIVE): P.PAID
       for state in (P.OPEN, P.PROCESSING, P.FAILED, P.EXPIRED)},
    (P.OPEN, PA.FAIL): P.FAILED,
    (P.PROCESSING, PA.FAIL): P.FAILED,
    (P.OPEN, PA.EXPIRE): P.EXPIRED,
    **{(state, action): target
       for state in (P.PAID, P.PARTIALLY_REFUNDED, P.DISPUTED)
       for action, target in ((PA.REFUND_PART, P.PARTIALLY_REFUNDED),
                              (PA.REFUND_ALL, P.REFUNDED))},
    (P.PAID, PA.DISPUTE): P.DISPUTED,
    (P.PARTIALLY_REFUNDED, PA.DISPUTE): P.DISPUTED,
    (P.DISPUTED, PA.WIN): P.PAID,
    (P.DISPUTED, PA.WIN_AFTER_REFUND): P.PARTIALLY_REFUNDED,
    **{(state, PA.LOSE): P.CHARGED_BACK
       for state in (P.PAID, P.PARTIALLY_REFUNDED, P.REFUNDED, P.DISPUTED)},
}
PAYMENTS: Lifecycle[PaymentStatus, PaymentAction] = Lifecycle("payment", TRANSITIONS)


def set_payment_status(db: "Session", payment: "Payment", action: PaymentAction, *,
                       actor: str, reason: str | None = None) -> None:
    """Move the payment on by `action`, audited on its request's timeline."""
    before = payment.status
    after = PAYMENTS.next_state(before, action)
    payment.status = after
    name = "start_payment" if action == PA.START else f"payment_{after.value}"
    record_event(db, payment.request, "payment", name, actor=actor,
                 before=before.value if before else None, after=after.value, reason=reason)
