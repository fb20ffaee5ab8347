"""What a payment means for its request and licence: release on confirmed payment (or hold
it for staff), refunds and disputes, invoices paid by transfer, and staff refunds.

Rules that never bend, kept here: nothing is released unless the provider itself reported
the payment (or staff saw the transfer of an invoice); a paid amount or currency that differs
from the quote releases nothing and alerts staff; one request gets at most one licence.
"""

from sqlalchemy.orm import Session

from portal.licences import services as licences
from portal.licences.models import Licence, LicenceStatus
from portal.licensing import services as licensing
from portal.money import Money
from portal.notifications.people import requester_update, update_staff
from portal.payments import services as payments
from portal.payments.models import Payment
from portal.payments.provider import DisputeOutcome, ProviderDispute, ProviderError, ProviderPayment
from portal.payments.registry import provider
from portal.uow import end_transaction, unit_of_work


def apply_report(db: Session, payment_id: int, report: ProviderPayment, *, actor: str,
                 reason: str | None = None) -> list[int]:
    """Apply a provider's report in the caller's transaction, with its effects on the
    request and licence. Returns the payments whose checkouts to close after the commit."""
    applied = payments.apply_provider_payment(db, payment_id, report, actor=actor,
                                              reason=reason)
    payment = applied.payment
    to_close: list[int] = []
    if applied.received:
        to_close = _release_or_hold(db, payment, actor=actor)
    if applied.refunded_now is not None:
        _refunded(db, payment, applied.refunded_now, full=applied.refunded_in_full,
                  actor=actor, reason=reason or "refunded at the provider")
    return to_close


def _release_or_hold(db: Session, payment: Payment, *, actor: str) -> list[int]:
    request = payment.request
    existing = licences.licence_of(db, request)
    problem = payments.release_problem(
        payment, existing_licence=existing.number if existing else None)
    if problem is not None:
        payments.hold(db, payment, problem, actor=actor)
        return []
    licensing.confirm_payment(db, request, actor=actor,
                              reason=f"{payment.provider.value} {payment.provider_ref}")
    licence = licences.issue_licence(db, request, fee=payment.paid_amount or payment.amount,
                                     actor=actor, payment_id=payment.id)
    requester_update(db, request, f"payment confirmed, licence {licence.number} issued",
                     f"Thank you: your payment of {payment.paid_amount or payment.amount} is "
                     f"confirmed and licence {licence.number} is issued.",
                     [_term_line(licence)], button_text="Open your licence")
    update_staff(db, request, f"paid; licence {licence.number} issued",
                 "Nothing to do: the licence was issued automatically.")
    return [p.id for p in payments.open_payments(db, request) if p.id != payment.id]


def _term_line(licence: Licence) -> str:
    if licence.ends_on is None:
        return f"It runs from {licence.starts_on:%d %B %Y}, with no end date."
    return f"It runs from {licence.starts_on:%d %B %Y} to {licence.ends_on:%d %B %Y}."


def _licence_paid_by(db: Session, payment: Payment) -> Licence | None:
    licence = licences.licence_of(db, payment.request)
    return licence if licence is not None and licence.payment_id == payment.id else None


def _refunded(db: Session, payment: Payment, refunded_now: Money, *, full: bool, actor: str,
              reason: str) -> None:
    licence = _licence_paid_by(db, payment)
    details = []
    if reason:
        details.append(f"Reason: {reason}")
    if full and licence is not None and licence.status != LicenceStatus.REVOKED:
        details.append(f"As the payment is refunded in full, licence {licence.number} is "
                       "revoked: please take down any copy published under it.")
    requester_update(db, payment.request, f"{refunded_now} refunded",
                     f"We refunded {refunded_now} of your payment for "
                     f"{payment.request.reference}. It reaches your account in a few working "
                     "days.", details)
    if full and licence is not None:
        licences.set_status(db, licence, LicenceStatus.REVOKED, actor=actor,
                            reason="the payment was refunded in full")


def apply_dispute_report(db: Session, payment_id: int, dispute: ProviderDispute, *,
                         actor: str) -> None:
    """A dispute suspends the licence; won restores it; lost revokes it."""
    payment = payments.lock_payment(db, payment_id)
    outcome = payments.apply_dispute(db, payment, dispute, actor=actor)
    licence = _licence_paid_by(db, payment)
    if outcome is None or licence is None:
        return
    if outcome == DisputeOutcome.OPEN:
        licences.set_status(db, licence, LicenceStatus.SUSPENDED, actor=actor,
                            reason="the payment for it is disputed")
    elif outcome == DisputeOutcome.WON:
        licences.set_status(db, licence, LicenceStatus.ACTIVE, actor=actor,
                            reason="the dispute over the payment was closed in our favour")
    else:
        licences.set_status(db, licence, LicenceStatus.REVOKED, actor=actor,
                            reason="the payment was reversed after a dispute")


# -- Staff ----------------------------------------------------------------------------------

def record_invoice_payment(db: Session, payment_id: int, amount: Money, *, reference: str,
                           actor: str) -> None:
    """Staff saw the bank transfer for an invoice arrive."""
    from portal.workflows.providers import close_checkouts

    with unit_of_work(db):
        payment = payments.lock_payment(db, payment_id)
        payments.check_invoice_payable(payment)
        payment.received_reference = reference
        payments.receive(db, payment, amount, actor=actor, reference=reference)
        to_close = _release_or_hold(db, payment, actor=actor)
    close_checkouts(db, to_close, actor=actor, reason="another payment was confirmed")


def refund(db: Session, payment_id: int, amount_minor: int, *, actor: str, reason: str,
           key: str) -> None:
    """Refund part or all of a received payment through its provider. `key` comes with the
    staff's form: the same form sent twice makes one refund."""
    payment = payments.lock_payment(db, payment_id)
    payments.check_refund(payment, amount_minor)
    name, intent, ref = payment.provider.value, payment.payment_intent_id, payment.provider_ref
    end_transaction(db)
    backend = provider(name)
    backend.refund(intent, ref or "", amount_minor, f"portal-refund-{payment_id}-{key}")
    report = None
    if backend.fetches_state and ref:
        try:
            report = backend.fetch(ref)
        except ProviderError:
            # The refund is made: record it as made, and let the webhook (or the next
            # fetch) bring the exact total.
            report = None
    with unit_of_work(db):
        if report is not None:
            apply_report(db, payment_id, report, actor=actor, reason=reason)
            return
        payment = payments.lock_payment(db, payment_id)
        if not backend.fetches_state:
            payments.check_refund(payment, amount_minor)  # the provider checked nothing
        refunded_now, full = payments.record_refunded_total(
            db, payment, payment.refunded_minor + amount_minor, actor=actor, reason=reason)
        if refunded_now is not None:
            _refunded(db, payment, refunded_now, full=full, actor=actor, reason=reason)
