"""The money path at its edges: a webhook racing a click on Pay, and Stripe hanging, failing
or dropping the connection. Parallel clients, each with its own database connection (real
parallel connections on PostgreSQL when PORTAL_TEST_DATABASE_URL is set), against the real
StripeClient talking to the fake Stripe.

Each race test has a control: with the guard switched off (a test-only switch), the race is
visible, so the test can fail.

Stripe's tries are a second long here (production's are 5 s): a hanging Stripe proves the same
points in a fifth of the time. The tests marked `timing` (make bench) hold the production
figures and the sub-second answers to the clock.
"""

import threading
import time
from datetime import timedelta

import pytest
from flask import Config, Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.db import utcnow
from portal.licensing.models import RepublishRequest
from portal.payments.models import Payment, PaymentStatus
from portal.resources import resource_dir
from portal.staff.models import StaffRole
from portal.workflows import checkout as checkout_workflow
from portal.workflows import providers as provider_workflows
from tests.fake_stripe import FakeStripe
from tests.payments_support import (
    Buyer,
    footprint,
    licences,
    payments,
    quoted_request,
    send,
    state,
    stripe_config,
)
from tests.staff_fixtures import StaffLogin, page_csrf_token


def production_default(key: str) -> object:
    defaults = Config(resource_dir("config"))
    defaults.from_pyfile("default.py")
    return defaults[key]


#: How long Stripe hangs in these tests: far longer than the buyer is kept waiting.
HANG_SECONDS = 30


@pytest.fixture
def stripe_timeout() -> float:
    """Seconds a try may wait for Stripe (a timing test parametrizes production's)."""
    return 1


@pytest.fixture
def app_overrides(fake_stripe: FakeStripe, stripe_timeout: float) -> dict[str, object]:
    config = stripe_config(fake_stripe)
    # One retry, as in production.
    config.update(STRIPE_MAX_NETWORK_RETRIES=production_default("STRIPE_MAX_NETWORK_RETRIES"),
                  STRIPE_TIMEOUT_SECONDS=stripe_timeout)
    return config


def in_thread(call):  # type: ignore[no-untyped-def]
    """Run `call` in a thread; returns (thread, box) where box gets [result, seconds]."""
    box: list[object] = []

    def run() -> None:
        started = time.monotonic()
        result = call()
        box.extend([result, time.monotonic() - started])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def accepted(app: Flask, db: Session, fake: FakeStripe) -> tuple[int, Buyer, str]:
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    response = buyer.accept()
    assert response.status_code == 303, response.get_data(as_text=True)
    session_id = response.headers["Location"].rsplit("/", 1)[1]
    return request_id, buyer, session_id


def sessions_created(fake: FakeStripe) -> list[str]:
    return list(fake.sessions)


# -- The webhook confirming while the buyer presses Pay -------------------------------------

@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "control-unguarded"])
def test_a_webhook_confirming_while_pay_is_pressed_gives_no_second_checkout(
        app: Flask, db: Session, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch,
        guarded: bool) -> None:
    monkeypatch.setattr(checkout_workflow, "GUARD_STALE_CHECKOUTS", guarded)
    request_id, buyer, first = accepted(app, db, fake_stripe)
    # The first checkout is about to end, so pressing Pay opens a new one...
    db.execute(update(Payment).values(expires_at=utcnow() + timedelta(minutes=5)))
    db.commit()
    gate = fake_stripe.hold("POST", "/v1/checkout/sessions")
    thread, box = in_thread(lambda: buyer.post("pay"))
    assert gate.arrived.wait(10), "the Pay click reached Stripe"
    # ...while, in another tab, the buyer paid the first one, and Stripe's webhook confirms it.
    send(app.test_client(), fake_stripe, "checkout.session.completed", fake_stripe.pay(first))
    assert state(db, request_id) == "licensed"
    gate.release()
    thread.join(20)
    response = box[0]
    assert isinstance(response, TestResponse)
    second = [s for s in sessions_created(fake_stripe) if s != first]
    assert len(second) == 1, "the click made a checkout at Stripe"
    if not guarded:
        # The control: without the re-check the buyer is sent to pay again for a request
        # that is already licensed.
        assert response.status_code == 303
        assert response.headers["Location"].endswith(second[0])
        return
    assert response.status_code == 409, response.get_data(as_text=True)
    assert "paid for and licensed" in response.get_data(as_text=True)
    # The checkout Stripe made for nothing is closed there at once, and never recorded.
    assert fake_stripe.sessions[second[0]]["status"] == "expired"
    assert [p.provider_ref for p in payments(db, request_id)] == [first]
    assert len(licences(db, request_id)) == 1


def test_a_double_click_while_stripe_answers_slowly_sends_both_clicks_to_one_checkout(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    token = buyer.csrf()
    gate = fake_stripe.hold("POST", "/v1/checkout/sessions")
    first, first_box = in_thread(lambda: buyer.post("accept", quote_version=1))
    assert gate.arrived.wait(10)
    # The second click accepts the same quote while the first waits for Stripe.
    other = app.test_client()
    with other.session_transaction() as copy, buyer.client.session_transaction() as original:
        copy.update(original)
    second = other.post(f"{url}/accept", data={"csrf_token": token, "quote_version": 1})
    gate.release()
    first.join(20)
    statuses = sorted([first_box[0].status_code, second.status_code])  # type: ignore[attr-defined]
    assert statuses in ([303, 303], [303, 409]), statuses
    open_payments = [p for p in payments(db, request_id) if p.status == PaymentStatus.OPEN]
    assert len(open_payments) == 1
    recorded = open_payments[0].provider_ref
    for session_id, session in fake_stripe.sessions.items():
        assert session["status"] == ("open" if session_id == recorded else "expired")


# -- Stripe hanging, failing, dropping the connection ---------------------------------------

FAULTS = {
    "hangs": lambda fake: fake.hang_next("POST", "/v1/checkout/sessions", HANG_SECONDS, count=2,
                                         after_handling=True),
    "answers 500": lambda fake: fake.fail_next("POST", "/v1/checkout/sessions", status=500,
                                               count=2),
    "drops the connection": lambda fake: fake.drop_next("POST", "/v1/checkout/sessions",
                                                        count=2, after_handling=True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_stripe_failing_at_checkout_leaves_nothing_half_written(
        app: Flask, db: Session, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch,
        fault: str) -> None:
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    buyer.csrf()
    before = footprint(db)
    FAULTS[fault](fake_stripe)
    started = time.monotonic()
    response = buyer.accept()
    waited = time.monotonic() - started
    text = response.get_data(as_text=True)
    assert response.status_code == 503 and "try again" in text.lower(), text
    # Answered by the client's timeouts, long before the hang ends.
    assert waited < HANG_SECONDS / 2, f"the buyer waited {waited:.1f} s"
    assert footprint(db) == before and state(db, request_id) == "quoted"
    # A checkout Stripe made but whose answer was lost is closed by `payments reconcile`.
    monkeypatch.setattr(provider_workflows, "ORPHAN_AFTER", timedelta(0))
    made = [s for s, session in fake_stripe.sessions.items() if session["status"] == "open"]
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    for session_id in made:
        assert f"closed checkout {session_id}" in result.output
        assert fake_stripe.sessions[session_id]["status"] == "expired"
    if fault != "answers 500":
        assert made, "the fault let Stripe make the checkout first"
    # And the buyer can pay once Stripe is back.
    again = buyer.accept()
    assert again.status_code == 303 and state(db, request_id) == "awaiting_payment"


def staff_and_health_check_while_stripe_hangs(
        app: Flask, staff: FlaskClient, db: Session, fake_stripe: FakeStripe,
        staff_login: StaffLogin) -> tuple[float, float]:
    """A buyer's accept waits on a hanging Stripe while the health check and a staff re-quote
    of the same request are answered; returns how long each of those two took."""
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    buyer.csrf()
    staff_login(StaffRole.LICENSING)  # signs in `staff`, the test's client
    reference = db.get(RepublishRequest, request_id).reference
    page_url = f"/staff/requests/{reference}"
    csrf = page_csrf_token(staff, page_url)
    fake_stripe.hang_next("POST", "/v1/checkout/sessions", HANG_SECONDS, count=2)
    thread, box = in_thread(buyer.accept)
    deadline = time.monotonic() + 10
    while not any(r["path"] == "/v1/checkout/sessions" for r in fake_stripe.requests):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # the buyer's request is now waiting on Stripe

    started = time.monotonic()
    health = app.test_client().get("/healthz")
    health_took = time.monotonic() - started
    assert health.status_code == 200
    # The version the staff member's page shows now: `db` may still hold the row as it was
    # before the quote (whether it does depends on when Python's garbage collector last ran).
    db.expire_all()
    version = db.get(RepublishRequest, request_id).version
    db.rollback()
    started = time.monotonic()
    requote = staff.post(f"{page_url}/quote", data={
        "csrf_token": csrf, "version": version, "amount": "300.00", "currency": "GBP",
        "valid_until": (utcnow() + timedelta(days=20)).date().isoformat(),
        "override_reason": "Bigger audience"})
    staff_took = time.monotonic() - started
    assert requote.status_code == 303, requote.get_data(as_text=True)[:2000]
    # Neither waited for the buyer's request to end: it is still waiting on Stripe. (A lock
    # held across the call to Stripe would have kept them until then.)
    assert thread.is_alive() and not box, "the buyer's request ended first"

    thread.join(HANG_SECONDS)
    response, waited = box
    assert isinstance(response, TestResponse) and isinstance(waited, float)
    # Answered by the client's timeouts, long before the hang ends.
    assert response.status_code == 503 and waited < HANG_SECONDS / 2
    assert state(db, request_id) == "quoted"
    assert payments(db, request_id) == []
    return health_took, staff_took


# Two tries of 2 s: time enough for a health check and a staff re-quote on a busy machine
# before the buyer's request gives up.
@pytest.mark.parametrize("stripe_timeout", [2])
def test_a_hanging_stripe_blocks_neither_staff_on_the_same_request_nor_the_health_check(
        app: Flask, client: FlaskClient, db: Session, fake_stripe: FakeStripe,
        staff_login: StaffLogin) -> None:
    staff_and_health_check_while_stripe_hangs(app, client, db, fake_stripe, staff_login)


# -- Against the clock, with production's timeouts (make bench; not in make test) -----------

@pytest.mark.timing
@pytest.mark.parametrize("stripe_timeout", [production_default("STRIPE_TIMEOUT_SECONDS")])
def test_while_stripe_hangs_staff_and_the_health_check_answer_within_a_second(
        app: Flask, client: FlaskClient, db: Session, fake_stripe: FakeStripe,
        staff_login: StaffLogin) -> None:
    health_took, staff_took = staff_and_health_check_while_stripe_hangs(
        app, client, db, fake_stripe, staff_login)
    assert health_took < 1, f"the health check took {health_took:.1f} s"
    assert staff_took < 1, f"the staff re-quote waited {staff_took:.1f} s"


@pytest.mark.timing
@pytest.mark.parametrize("stripe_timeout", [production_default("STRIPE_TIMEOUT_SECONDS")])
def test_with_production_timeouts_a_buyer_hears_try_again_within_15_seconds(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    buyer.csrf()
    FAULTS["hangs"](fake_stripe)
    started = time.monotonic()
    response = buyer.accept()
    waited = time.monotonic() - started
    assert response.status_code == 503 and "try again" in response.get_data(as_text=True).lower()
    assert waited < 15, f"the buyer waited {waited:.1f} s"
    assert state(db, request_id) == "quoted"
