"""Accept and pay, pay again, and the demo provider's test page.

Opening a checkout is three steps, so that no provider call happens while a transaction is
open or a row locked (a slow provider would stall every buyer, staff member and health check
waiting on them):
1. under the request's row lock, decide: send the buyer back to the checkout still open,
   or plan a new one (nothing is written but a payment number);
2. with no transaction open, the provider makes the checkout;
3. under the row lock again, record it, unless the request moved on meanwhile (paid by a
   webhook, re-quoted, withdrawn): then the new checkout is closed at once and the buyer
   is told where the request stands. A checkout whose answer was lost (a timeout) is found
   and closed by `payments reconcile`.
"""

from collections.abc import Callable

from flask import current_app
from sqlalchemy.orm import Session

from portal.licensing import services as licensing
from portal.payments import services as payments
from portal.payments.models import Payment
from portal.payments.registry import provider
from portal.uow import Conflict, unit_of_work
from portal.workflows.providers import expire_unrecorded, sync_payment, sync_under_way

REQUESTER = "requester"

#: Test-only switch: False removes the re-check of step 3, so that the race tests can show
#: the second checkout it prevents (a test whose guard cannot be removed cannot fail).
GUARD_STALE_CHECKOUTS = True


def start_payment(db: Session, request_id: int, *,
                  return_urls: Callable[[], payments.ReturnUrls],
                  accept_version: int | None = None) -> Payment:
    """The checkout the buyer goes to now: the open one, or a new one. With
    `accept_version`, the requester accepts that quote version in the same step (the quote
    is accepted only once the provider has made the checkout)."""
    accepting = accept_version is not None
    config = current_app.config
    if not accepting:
        # What became of the checkouts under way (paid a moment ago, with no webhook yet?):
        # applied and kept whatever happens next, so nobody is asked to pay twice.
        sync_under_way(db, request_id)
    # 1. Decide, on the request as committed.
    with unit_of_work(db):
        request = licensing.lock_request(db, request_id)
        if accepting:
            assert accept_version is not None
            licensing.check_acceptable(request, quote_version=accept_version)
        method = payments.method_for(request, str(config["PAYMENT_PROVIDER"]))
        planned = payments.plan_checkout(db, request, method=method,
                                         portal=config["BASE_URL"],
                                         return_urls=return_urls(), accepting=accepting)
    if isinstance(planned, Payment):
        return planned
    # 2. The provider makes the checkout; a failure leaves nothing written.
    backend = provider(planned.method)
    checkout = backend.start_checkout(planned.order)
    # 3. Record it, if the request still waits for it.
    recorded: Payment | None = None
    other: Payment | None = None
    try:
        with unit_of_work(db):
            request = licensing.lock_request(db, request_id)
            if GUARD_STALE_CHECKOUTS:
                other = payments.open_attempt(db, request, planned) if not accepting else None
                stale = payments.stale_plan(request, planned, accepting=accepting)
                if other is None and stale is not None:
                    raise _moved_on(request, stale)
            if other is None:
                if accepting:
                    assert accept_version is not None
                    licensing.accept_quote(db, request, quote_version=accept_version)
                recorded = payments.record_checkout(db, request, planned, checkout,
                                                    actor=REQUESTER)
    except BaseException:
        expire_unrecorded(backend, checkout.ref)
        raise
    if other is not None:
        # Another click recorded a checkout a moment ago: the buyer goes there.
        expire_unrecorded(backend, checkout.ref)
        return other
    assert recorded is not None
    return recorded


def _moved_on(request: object, why: str) -> Exception:
    from portal.licensing.lifecycle import RequestState
    from portal.licensing.models import RepublishRequest

    assert isinstance(request, RepublishRequest)
    if request.state == RequestState.LICENSED:
        return payments.PaymentError("This request is paid for and licensed: there is "
                                     "nothing more to pay.")
    return Conflict(f"Nothing was charged: {why}. Reload the page to see where your request "
                    "stands.")


def check_return(db: Session, payment_id: int) -> None:
    """The buyer came back from the provider: ask the provider what became of the checkout.
    Arriving proves nothing; only what the provider reports moves the request on."""
    sync_payment(db, payment_id)


def demo_outcome(db: Session, ref: str, outcome: str) -> str:
    """The test buyer pays (or fails to) on the demo's page. The portal then learns of it
    the way it learns of a Stripe payment: by fetching the checkout from the provider.
    Returns where the buyer goes next (the checkout's success address)."""
    demo = provider("demo")
    next_url: str = demo.pay(ref) if outcome == "pay" else demo.fail(ref)
    payment = payments.payment_by_ref(db, "demo", ref)
    payment_id = payment.id if payment else None
    db.rollback()
    if payment_id is not None:
        sync_payment(db, payment_id, actor=payments.provider_actor("demo"))
    return next_url
