"""Decisions on a request that reach into payments and licences: quote and re-quote,
approve free of charge, decline, withdraw, and the payment method.

Each commits its decision first, then closes the checkouts the decision made pointless
(a provider call, outside the transaction). A provider that cannot be reached leaves a
checkout open at its end only: the request no longer waits for it, so a late payment is held
for staff, and `payments reconcile` closes it.
"""

from flask import current_app
from sqlalchemy.orm import Session

from portal.licences import services as licences
from portal.licensing import services as licensing
from portal.notifications.people import tell_requester
from portal.payments import services as payments
from portal.payments.models import PaymentProvider
from portal.uow import unit_of_work
from portal.workflows.providers import close_checkouts


def quote(db: Session, request_id: int, offer: licensing.QuoteInput, *, actor: str,
          expected_version: int | None) -> None:
    with unit_of_work(db):
        request = licensing.lock_request(db, request_id)
        closing = [p.id for p in payments.open_payments(db, request)]
        licensing.quote(db, request, offer, actor=actor,
                        currencies=current_app.config["CURRENCIES"],
                        expected_version=expected_version)
    close_checkouts(db, closing, actor=actor, reason="the request was re-quoted")


def approve_free(db: Session, request_id: int, *, actor: str, note: str | None,
                 expected_version: int | None) -> None:
    with unit_of_work(db):
        request = licensing.lock_request(db, request_id)
        closing = [p.id for p in payments.open_payments(db, request)]
        fee = licensing.approve_free(db, request, actor=actor, note=note,
                                     default_currency=current_app.config["CURRENCIES"][0],
                                     expected_version=expected_version)
        licence = licences.issue_licence(db, request, fee=fee, actor=actor)
        tell_requester(db, request, "approved_free", note=note, licence=licence)
    close_checkouts(db, closing, actor=actor, reason="the request was approved free of charge")


def decline(db: Session, request_id: int, *, actor: str, reason: str,
            expected_version: int | None) -> None:
    with unit_of_work(db):
        request = licensing.lock_request(db, request_id)
        closing = [p.id for p in payments.open_payments(db, request)]
        licensing.decline(db, request, actor=actor, reason=reason,
                          expected_version=expected_version)
    close_checkouts(db, closing, actor=actor, reason="the request was declined")


def withdraw(db: Session, request_id: int, *, message: str | None) -> None:
    with unit_of_work(db):
        request = licensing.lock_request(db, request_id)
        closing = [p.id for p in payments.open_payments(db, request)]
        licensing.withdraw(db, request, message=message)
    close_checkouts(db, closing, actor=licensing.REQUESTER, reason="the request was withdrawn")


def set_payment_method(db: Session, request_id: int, method: PaymentProvider | None, *,
                       actor: str, expected_version: int) -> None:
    with unit_of_work(db):
        request = licensing.lock_request(db, request_id)
        if request.version != expected_version:
            raise licensing.Conflict()
        closing = [p.id for p in payments.open_payments(db, request)]
        changed = payments.set_payment_method(
            db, request, method, default=str(current_app.config["PAYMENT_PROVIDER"]),
            actor=actor)
        after = payments.method_for(request, str(current_app.config["PAYMENT_PROVIDER"]))
    if changed:
        close_checkouts(db, closing, actor=actor,
                        reason=f"the payment method changed to {after.value}")
