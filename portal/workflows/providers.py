"""Talking to payment providers around the portal's transactions: fetch a checkout back and
apply it, close checkouts, reconcile, and apply the events a provider pushes.

Every provider call here runs with no transaction open (the read before it is ended first),
and what it answered is applied in a transaction of its own, under the payment's row lock.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.payments import services as payments
from portal.payments.models import Payment, PaymentProvider, PaymentStatus, ProviderEvent
from portal.payments.provider import (
    EventKind,
    PaymentProviderBackend,
    ProviderError,
    ProviderNotFound,
    ProviderPayment,
    WebhookEvent,
)
from portal.payments.registry import provider
from portal.uow import end_transaction, explain, unit_of_work
from portal.workflows.confirmation import apply_dispute_report, apply_report

log = logging.getLogger(__name__)
SYSTEM = "system"
#: a checkout the provider made but the portal never recorded is closed once it is this
#: old (younger ones may be a click still being recorded)
ORPHAN_AFTER = timedelta(minutes=5)


def _target(db: Session, payment_id: int) -> tuple[str, str | None, PaymentStatus] | None:
    payment = db.get(Payment, payment_id)
    found = (payment.provider.value, payment.provider_ref, payment.status) if payment else None
    end_transaction(db)
    return found


def sync_payment(db: Session, payment_id: int, *, actor: str | None = None,
                 reason: str | None = None) -> None:
    """Fetch the payment's checkout from its provider and apply what it says."""
    target = _target(db, payment_id)
    if target is None or target[1] is None:
        return
    name, ref, _status = target
    backend = provider(name)
    if not backend.fetches_state:
        return
    report = backend.fetch(ref)
    apply_fetched(db, payment_id, report, actor=actor or payments.provider_actor(name),
                  reason=reason)


def apply_fetched(db: Session, payment_id: int, report: ProviderPayment, *, actor: str,
                  reason: str | None = None) -> None:
    with unit_of_work(db):
        to_close = apply_report(db, payment_id, report, actor=actor, reason=reason)
    close_checkouts(db, to_close, actor=actor, reason="another payment was confirmed")


def sync_under_way(db: Session, request_id: int) -> None:
    """Ask the provider about the request's checkouts under way: one may have been paid a
    moment ago, before its webhook."""
    ids = list(db.scalars(select(Payment.id).where(
        Payment.request_id == request_id, Payment.provider != PaymentProvider.INVOICE,
        Payment.status.in_([PaymentStatus.OPEN, PaymentStatus.PROCESSING]))))
    end_transaction(db)
    for payment_id in ids:
        sync_payment(db, payment_id)


def close_checkouts(db: Session, payment_ids: list[int], *, actor: str, reason: str) -> None:
    """Expire open checkouts at their provider, then apply what each became (it may have
    been paid a moment ago). One the provider cannot close now stays open here, and
    `payments reconcile` closes it later."""
    for payment_id in payment_ids:
        target = _target(db, payment_id)
        if target is None or target[2] != PaymentStatus.OPEN:
            continue
        name, ref, _status = target
        if name == PaymentProvider.INVOICE:
            with unit_of_work(db):
                payment = payments.lock_payment(db, payment_id)
                payments.close_invoice(db, payment, actor=actor, reason=reason)
            continue
        if ref is None:
            continue
        backend = provider(name)
        try:
            backend.expire(ref)
            report = backend.fetch(ref)
        except ProviderError as error:
            log.warning("checkout %s left for reconcile: %s", ref, error.message)
            continue
        apply_fetched(db, payment_id, report, actor=actor, reason=reason)


def expire_unrecorded(backend: PaymentProviderBackend, ref: str) -> None:
    """Close a checkout the provider made that the portal will not use."""
    try:
        backend.expire(ref)
    except ProviderError as error:  # the orphan sweep of `payments reconcile` closes it
        log.warning("unused checkout %s left for reconcile: %s", ref, error.message)


# -- Reconciliation -------------------------------------------------------------------------

@dataclass
class ReconcileResult:
    payment_id: int
    label: str
    before: PaymentStatus
    after: PaymentStatus


def reconcile_one(db: Session, payment_id: int) -> ReconcileResult:
    """Fetch one payment (and its dispute) from its provider and apply it; close a checkout
    that its request no longer waits for."""
    payment = db.get(Payment, payment_id)
    assert payment is not None
    label = f"{payment.request.reference} {payment.provider.value} {payment.provider_ref}"
    before, name, ref = payment.status, payment.provider.value, payment.provider_ref or ""
    end_transaction(db)
    backend = provider(name)
    apply_fetched(db, payment_id, backend.fetch(ref), actor=SYSTEM)
    payment = db.get(Payment, payment_id)
    assert payment is not None
    if payment.status == PaymentStatus.OPEN and not payments.is_awaited(payment):
        end_transaction(db)
        close_checkouts(db, [payment_id], actor=SYSTEM,
                        reason="its request no longer waits for this payment")
    payment = db.get(Payment, payment_id)
    assert payment is not None
    if payment.status == PaymentStatus.DISPUTED and payment.dispute_id:
        dispute_id = payment.dispute_id
        end_transaction(db)
        dispute, _metadata = backend.fetch_dispute(dispute_id)
        with unit_of_work(db):
            apply_dispute_report(db, payment_id, dispute, actor=SYSTEM)
    payment = db.get(Payment, payment_id)
    assert payment is not None
    after = payment.status
    end_transaction(db)
    return ReconcileResult(payment_id, label, before, after)


@dataclass
class OrphanSweep:
    closed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def close_orphans(db: Session) -> OrphanSweep:
    """Close checkouts a provider made for this portal that the portal never recorded (its
    answer was lost to a timeout, or the request moved on and closing failed)."""
    sweep = OrphanSweep()
    now = utcnow()
    names = {str(current_app.config["PAYMENT_PROVIDER"])}
    names |= {name for name in db.scalars(select(Payment.provider).distinct())}
    end_transaction(db)
    portal = current_app.config["BASE_URL"]
    for name in sorted(names - {PaymentProvider.INVOICE}):
        try:
            backend = provider(name)
            open_checkouts = backend.list_open_checkouts(now - timedelta(hours=24))
        except ProviderError as error:
            sweep.failed.append(f"{name}: {error.message}")
            continue
        ours = [c for c in open_checkouts if c.created_at <= now - ORPHAN_AFTER
                and (not backend.checkout_origins or c.metadata.get("portal") == portal)]
        known = payments.known_refs(db, name, [c.ref for c in ours])
        end_transaction(db)
        for checkout in ours:
            if checkout.ref in known:
                continue
            try:
                backend.expire(checkout.ref)
                sweep.closed.append(checkout.ref)
            except ProviderError as error:
                sweep.failed.append(f"{checkout.ref}: {error.message}")
    return sweep


@dataclass
class Reconciliation:
    checked: int = 0
    changed: int = 0
    not_checked: int = 0
    sweep: OrphanSweep = field(default_factory=OrphanSweep)

    @property
    def complete(self) -> bool:
        return not self.not_checked and not self.sweep.failed

    def summary(self) -> str:
        line = (f"{self.checked} payment{'' if self.checked == 1 else 's'} checked: "
                f"{self.changed} changed, {self.checked - self.changed - self.not_checked} "
                f"unchanged, {self.not_checked} not checked")
        if self.sweep.closed:
            line += (f"; closed {len(self.sweep.closed)} unrecorded checkout"
                     f"{'' if len(self.sweep.closed) == 1 else 's'}")
        return line + "."


def reconcile(db: Session, say: Callable[[str, bool], None]) -> Reconciliation:
    """Re-fetch every open or disputed payment from its provider and apply what it says, one
    payment per transaction (one failure does not hold up the rest), then close orphan
    checkouts. ``say(line, is_problem)`` reports progress."""
    ids = payments.payments_to_reconcile(db)
    end_transaction(db)
    result = Reconciliation(checked=len(ids))
    say(f"Checking {len(ids)} payment{'' if len(ids) == 1 else 's'} with the provider.", False)
    for number, payment_id in enumerate(ids, 1):
        label = f"  [{number}/{len(ids)}]"
        try:
            outcome = reconcile_one(db, payment_id)
        except ProviderError as error:
            db.rollback()
            result.not_checked += 1
            say(f"{label} payment {payment_id}: not checked: {error.message}", True)
            continue
        except Exception as error:  # noqa: BLE001 - a concurrent change, mapped below
            db.rollback()
            if explain(error) is None:
                raise
            result.not_checked += 1
            say(f"{label} payment {payment_id}: changed meanwhile (a webhook?); run again",
                True)
            continue
        label = f"{label} {outcome.label}"
        if outcome.after != outcome.before:
            result.changed += 1
            say(f"{label}: {outcome.before.value} -> {outcome.after.value}", False)
        else:
            say(f"{label}: {outcome.after.value}, unchanged", False)
    result.sweep = close_orphans(db)
    for ref in result.sweep.closed:
        say(f"  closed checkout {ref}: the portal never recorded it", False)
    for problem in result.sweep.failed:
        say(f"  could not look for unrecorded checkouts: {problem}", True)
    return result


# -- Provider events (webhooks) -------------------------------------------------------------

def is_applied(db: Session, event_id: str) -> bool:
    applied = db.get(ProviderEvent, event_id) is not None
    end_transaction(db)
    return applied


def _payment_for_intent(db: Session, name: str, intent_id: str | None,
                        metadata: dict[str, str]) -> int | None:
    if intent_id:
        found = db.scalar(select(Payment.id).where(Payment.payment_intent_id == intent_id))
        if found is not None:
            return found
    # The PaymentIntent carries our payment id and request reference: a refund or dispute
    # reported before the checkout's completion still finds its payment. Both must match
    # (another portal on the same Stripe account has payments with the same ids).
    payment_id = metadata.get("payment_id", "")
    if payment_id.isdigit() and len(payment_id) < 12:
        payment = db.get(Payment, int(payment_id))
        if (payment is not None and payment.provider == name
                and payment.request.reference == metadata.get("request")
                and payment.payment_intent_id in (None, intent_id)):
            return payment.id
    return None


def handle_event(db: Session, backend: PaymentProviderBackend, event: WebhookEvent) -> str:
    """Apply a verified event once: fetch its object back from the provider (the event's
    own copy may be old), then apply it with the event id in the same transaction."""
    if is_applied(db, event.id):
        return "already applied"
    kind = backend.event_kind(event)
    to_close: list[int] = []
    try:
        if kind == EventKind.IGNORED:
            outcome, apply = "ignored", None
        elif kind == EventKind.CHECKOUT:
            payment = payments.payment_by_ref(db, backend.name, event.object_id)
            payment_id = payment.id if payment else None
            end_transaction(db)
            if payment_id is None:
                outcome, apply = "not a checkout of this portal", None
            else:
                report = backend.fetch(event.object_id)
                outcome, apply = "", ("payment", payment_id, report, None)
        else:
            if kind == EventKind.REFUND:
                intent_id, metadata = backend.payment_intent_of_charge(event.object_id)
                dispute = None
            else:
                dispute, metadata = backend.fetch_dispute(event.object_id)
                intent_id = dispute.payment_intent_id
            payment_id = _payment_for_intent(db, backend.name, intent_id, metadata)
            ref = db.get(Payment, payment_id).provider_ref if payment_id else None
            end_transaction(db)
            if payment_id is None or ref is None:
                outcome, apply = "not a payment of this portal", None
            else:
                # A dispute reported before the payment's own events: the payment first.
                outcome, apply = "", ("payment", payment_id, backend.fetch(ref), dispute)
    except ProviderNotFound:
        # The provider no longer has the object (or never had it for this account): nothing
        # to do, and answering 200 stops it retrying for days.
        outcome, apply = f"its object is unknown to {backend.name.capitalize()}", None
    actor = payments.provider_actor(backend.name)
    with unit_of_work(db):
        if apply is not None:
            _kind, payment_id, report, dispute = apply
            to_close = apply_report(db, payment_id, report, actor=actor)
            if dispute is not None:
                apply_dispute_report(db, payment_id, dispute, actor=actor)
            status = db.get(Payment, payment_id).status  # type: ignore[union-attr]
            outcome = f"payment {payment_id} is {status.value}"
        db.add(ProviderEvent(id=event.id, provider=backend.name, type=event.type,
                             received_at=utcnow()))
        # Flushed now so a concurrent delivery of the same event fails here, before commit.
        db.flush()
    log.info("%s event %s (%s): %s", backend.name, event.id, event.type, outcome)
    close_checkouts(db, to_close, actor=actor, reason="another payment was confirmed")
    return outcome
