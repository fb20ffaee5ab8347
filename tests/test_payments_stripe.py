"""Paying with Stripe Checkout, through the real StripeClient talking to a fake Stripe on
127.0.0.1, and webhooks signed as Stripe signs them posted to the real route."""

import itertools
import json
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.licences.models import LicenceStatus
from portal.licensing.models import Quote, QuoteStatus
from portal.payments.models import PaymentStatus, ProviderEvent
from portal.staff.models import StaffRole
from tests.fake_stripe import FakeStripe
from tests.payments_support import (
    Buyer,
    count,
    footprint,
    licences,
    mails_to,
    payments,
    post_event,
    quoted_request,
    send,
    state,
    stripe_config,
)
from tests.staff_fixtures import StaffLogin, page_csrf_token

BUYER = "jane@gazette.example"
IN_20_DAYS = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
DESK = "licensing@northernledger.example"


@pytest.fixture
def app_overrides(fake_stripe: FakeStripe) -> dict[str, object]:
    return stripe_config(fake_stripe)


def checkout(app: Flask, db: Session, fake: FakeStripe, **quote: object
             ) -> tuple[int, Buyer, str]:
    """A quoted request whose buyer pressed "Accept and pay": (request id, buyer, session)."""
    request_id, url = quoted_request(app, db, **quote)  # type: ignore[arg-type]
    buyer = Buyer(app, url)
    response = buyer.accept()
    assert response.status_code == 303, response.get_data(as_text=True)
    session_id = response.headers["Location"].rsplit("/", 1)[1]
    assert session_id in fake.sessions
    return request_id, buyer, session_id


def test_accept_and_pay_sends_the_buyer_to_a_checkout_for_exactly_the_quote(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe, amount=123456,
                                             currency="EUR")
    params = fake_stripe.session_params[session_id]
    (item,) = params["line_items"]
    assert item["price_data"]["unit_amount"] == 123456 and item["quantity"] == 1
    assert item["price_data"]["currency"] == "eur"
    (payment,) = payments(db, request_id)
    quote = db.get(Quote, payment.quote_id)
    assert params["metadata"] == {
        "portal": app.config["BASE_URL"],
        "request": quote.request.reference, "quote_id": str(quote.id), "quote_version": "1",
        "payment_id": str(payment.id)}
    assert params["payment_intent_data"]["metadata"] == params["metadata"]
    assert params["client_reference_id"] == quote.request.reference
    assert params["customer_email"] == BUYER
    assert params["tax_id_collection"] == {"enabled": True}
    assert params["invoice_creation"]["enabled"] is True
    # The status page's token never reaches Stripe: the buyer comes back to addresses with
    # a random key of the checkout's own.
    assert buyer.token not in json.dumps(params)
    assert params["success_url"] == f"{app.config['BASE_URL']}/payments/{payment.return_key}/return"
    assert params["cancel_url"] == f"{app.config['BASE_URL']}/payments/{payment.return_key}/cancelled"
    # no later than the quote, and within Stripe's 30 minutes to 24 hours
    expires = datetime.fromtimestamp(params["expires_at"], UTC)
    assert expires <= quote.valid_until
    assert 30 * 60 < params["expires_at"] - time.time() <= 24 * 3600
    (create,) = [r for r in fake_stripe.requests if r["path"] == "/v1/checkout/sessions"]
    key = create["headers"]["Idempotency-Key"]
    assert quote.request.reference in key and "-q1-a1-" in key
    assert state(db, request_id) == "awaiting_payment"
    assert (payment.status, payment.provider_ref, payment.amount_minor, payment.currency) == (
        PaymentStatus.OPEN, session_id, 123456, "EUR")


def test_the_return_page_releases_nothing_until_stripe_reports_the_payment(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    # The buyer types the success URL without paying: the page asks Stripe, which says no.
    page = buyer.client.get(f"{buyer.url}/payment")
    assert page.status_code == 200
    assert "confirming your payment" in page.get_data(as_text=True).lower()
    assert state(db, request_id) == "awaiting_payment" and licences(db, request_id) == []
    # Paid at Stripe, before any webhook: the fetch-back confirms it with Stripe.
    fake_stripe.pay(session_id)
    back = buyer.client.get(f"{buyer.url}/payment")
    assert back.status_code == 303 and back.headers["Location"].endswith(buyer.url)
    assert state(db, request_id) == "licensed"
    (licence,) = licences(db, request_id)
    assert licence.number.startswith(f"LIC-{datetime.now(UTC).year}-")
    assert (licence.fee_minor, licence.currency, licence.status) == (25000, "GBP",
                                                                       LicenceStatus.ACTIVE)
    page = buyer.page().get_data(as_text=True)
    assert licence.number in page
    charge = fake_stripe.payment_intents[fake_stripe.sessions[session_id]["payment_intent"]][
        "latest_charge"]
    assert f'href="https://pay.stripe.com/receipts/payment/{charge}"' in page
    # The webhook arriving afterwards changes nothing.
    send(buyer.client, fake_stripe, "checkout.session.completed", fake_stripe.sessions[session_id])
    assert len(licences(db, request_id)) == 1
    assert [m for m in mails_to(db, BUYER) if licence.number in m.subject]


def test_a_webhook_confirms_the_payment_once_and_a_replay_does_nothing(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    fake_stripe.pay(session_id)
    event = fake_stripe.event("checkout.session.completed", fake_stripe.sessions[session_id])
    first = post_event(buyer.client, fake_stripe, event)
    assert first.status_code == 200 and first.json["outcome"].endswith("is paid")
    assert state(db, request_id) == "licensed"
    before = footprint(db)
    replay = post_event(buyer.client, fake_stripe, event)
    assert replay.status_code == 200 and replay.json["outcome"] == "already applied"
    assert footprint(db) == before and count(db, ProviderEvent) == 1
    (payment,) = payments(db, request_id)
    assert (payment.status, payment.paid_amount_minor, payment.payment_intent_id) == (
        PaymentStatus.PAID, 25000, fake_stripe.sessions[session_id]["payment_intent"])
    staff_mail = mails_to(db, DESK)[-1]
    assert "licence" in staff_mail.subject and "paid" in staff_mail.subject


@pytest.mark.parametrize("tamper", ["signature", "payload", "stale", "missing", "secret"])
def test_a_webhook_that_is_not_stripes_is_refused_and_changes_nothing(
        app: Flask, db: Session, fake_stripe: FakeStripe, tamper: str) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    fake_stripe.pay(session_id)
    event = fake_stripe.event("checkout.session.completed", fake_stripe.sessions[session_id])
    payload = json.dumps(event).encode()
    headers = {"Stripe-Signature": fake_stripe.sign(payload)}
    if tamper == "signature":
        headers["Stripe-Signature"] = headers["Stripe-Signature"][:-4] + "0000"
    elif tamper == "payload":
        tampered = payload.replace(b'"livemode": false', b'"livemode": true ')
        assert tampered != payload
        payload = tampered
    elif tamper == "stale":
        headers["Stripe-Signature"] = fake_stripe.sign(payload, timestamp=int(time.time()) - 600)
    elif tamper == "missing":
        headers = {}
    else:
        headers["Stripe-Signature"] = fake_stripe.sign(payload, secret="whsec_someone_else")
    before = footprint(db)
    response = buyer.client.post("/webhooks/stripe", data=payload, headers=headers,
                                 content_type="application/json")
    assert response.status_code == 400
    assert footprint(db) == before and count(db, ProviderEvent) == 0
    assert state(db, request_id) == "awaiting_payment"


def test_a_webhook_for_someone_elses_checkout_is_acknowledged_and_ignored(
        client: FlaskClient, db: Session, fake_stripe: FakeStripe) -> None:
    response = send(client, fake_stripe, "checkout.session.completed",
                    {"id": "cs_test_not_ours", "object": "checkout.session"})
    assert response.json["outcome"] == "not a checkout of this portal"
    other = send(client, fake_stripe, "customer.created", {"id": "cus_1", "object": "customer"})
    assert other.json["outcome"] == "ignored"


ORDERS = list(itertools.permutations(["completed", "dispute_created", "dispute_closed"]))


@pytest.mark.parametrize("outcome", ["won", "lost"])
@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_late_and_out_of_order_events_give_the_same_outcome(
        app: Flask, db: Session, fake_stripe: FakeStripe, order: tuple[str, ...],
        outcome: str) -> None:
    """Everything happened at Stripe before any event arrives; whatever the order of the
    deliveries, the portal ends where Stripe is."""
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    session = fake_stripe.pay(session_id)
    dispute = fake_stripe.open_dispute(session["payment_intent"])
    events = {"completed": ("checkout.session.completed", dict(session)),
              "dispute_created": ("charge.dispute.created", dict(dispute))}
    dispute = fake_stripe.close_dispute(dispute["id"], outcome)
    events["dispute_closed"] = ("charge.dispute.closed", dict(dispute))
    for name in order:
        send(buyer.client, fake_stripe, *events[name])
    (payment,) = payments(db, request_id)
    (licence,) = licences(db, request_id)
    if outcome == "won":
        assert payment.status == PaymentStatus.PAID
        assert licence.status == LicenceStatus.ACTIVE
    else:
        assert payment.status == PaymentStatus.CHARGED_BACK
        assert licence.status == LicenceStatus.REVOKED
    assert state(db, request_id) == "licensed"


def test_a_dispute_suspends_the_licence_and_winning_it_restores_it(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    session = fake_stripe.pay(session_id)
    send(buyer.client, fake_stripe, "checkout.session.completed", session)
    dispute = fake_stripe.open_dispute(session["payment_intent"])
    send(buyer.client, fake_stripe, "charge.dispute.created", dispute)
    (licence,) = licences(db, request_id)
    assert licence.status == LicenceStatus.SUSPENDED
    assert payments(db, request_id)[0].status == PaymentStatus.DISPUTED
    assert "suspended" in buyer.page().get_data(as_text=True)
    assert any("suspended" in m.subject for m in mails_to(db, BUYER))
    send(buyer.client, fake_stripe, "charge.dispute.closed",
         fake_stripe.close_dispute(dispute["id"], "won"))
    assert licences(db, request_id)[0].status == LicenceStatus.ACTIVE
    assert payments(db, request_id)[0].status == PaymentStatus.PAID
    assert any("restored" in m.subject for m in mails_to(db, BUYER))


@pytest.mark.parametrize("mismatch", [{"amount": 100}, {"currency": "usd"}])
def test_a_payment_that_differs_from_the_quote_releases_nothing_and_staff_can_refund_it(
        app: Flask, db: Session, client: FlaskClient, fake_stripe: FakeStripe,
        staff_login: StaffLogin, mismatch: dict[str, object]) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    send(buyer.client, fake_stripe, "checkout.session.completed",
         fake_stripe.pay(session_id, **mismatch))  # type: ignore[arg-type]
    assert state(db, request_id) == "awaiting_payment" and licences(db, request_id) == []
    (payment,) = payments(db, request_id)
    assert payment.status == PaymentStatus.PAID and payment.problem
    alert = mails_to(db, DESK)[-1]
    assert "needs your attention" in alert.subject
    # The request page alerts staff, who refund it in full.
    staff_login(StaffRole.LICENSING)
    page_url = f"/staff/requests/{payment.request.reference}"
    page = client.get(page_url).get_data(as_text=True)
    assert "A payment needs your attention" in page
    amount = "1.00" if "amount" in mismatch else "250.00"
    response = client.post(f"{page_url}/refund", data={
        "csrf_token": page_csrf_token(client, page_url), "payment_id": payment.id,
        "amount": amount, "reason": "Paid the wrong amount", "key": secrets.token_hex(10)})
    assert response.status_code == 303, response.get_data(as_text=True)
    (payment,) = payments(db, request_id)
    assert payment.status == PaymentStatus.REFUNDED
    charge = fake_stripe.charges[fake_stripe.payment_intents[payment.payment_intent_id][
        "latest_charge"]]
    assert charge["refunded"] is True
    assert licences(db, request_id) == []


def test_a_payment_for_a_superseded_quote_is_held_for_staff(
        app: Flask, db: Session, client: FlaskClient, fake_stripe: FakeStripe,
        staff_login: StaffLogin) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    fake_stripe.pay(session_id)  # paid at Stripe a moment before staff re-quote
    staff_login(StaffRole.LICENSING)
    reference = payments(db, request_id)[0].request.reference
    page_url = f"/staff/requests/{reference}"
    version = payments(db, request_id)[0].request.version
    response = client.post(f"{page_url}/quote", data={
        "csrf_token": page_csrf_token(client, page_url), "version": version,
        "amount": "300", "currency": "GBP", "valid_until": IN_20_DAYS,
        "override_reason": "New terms"})
    assert response.status_code == 303, response.get_data(as_text=True)
    # Closing the old checkout found it paid: the money is recorded, nothing is released.
    (payment,) = payments(db, request_id)
    assert payment.status == PaymentStatus.PAID and "replaced by a newer quote" in payment.problem
    assert state(db, request_id) == "quoted" and licences(db, request_id) == []
    send(buyer.client, fake_stripe, "checkout.session.completed", fake_stripe.sessions[session_id])
    assert licences(db, request_id) == [] and payments(db, request_id)[0].problem


def test_re_quoting_and_withdrawing_expire_the_open_checkout(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    response = buyer.post("withdraw", message="Changed our plans")
    assert response.status_code == 303
    assert fake_stripe.sessions[session_id]["status"] == "expired"
    (payment,) = payments(db, request_id)
    assert payment.status == PaymentStatus.EXPIRED
    assert state(db, request_id) == "withdrawn"
    assert payment.quote.status == QuoteStatus.VOID


def test_staff_re_quoting_an_accepted_quote_expires_its_checkout(
        app: Flask, db: Session, client: FlaskClient, fake_stripe: FakeStripe,
        staff_login: StaffLogin) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    staff_login(StaffRole.LICENSING)
    (payment,) = payments(db, request_id)
    page_url = f"/staff/requests/{payment.request.reference}"
    response = client.post(f"{page_url}/quote", data={
        "csrf_token": page_csrf_token(client, page_url), "version": payment.request.version,
        "amount": "180", "currency": "GBP", "valid_until": IN_20_DAYS,
        "override_reason": "Discount agreed by phone"})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert fake_stripe.sessions[session_id]["status"] == "expired"
    (payment,) = payments(db, request_id)
    assert payment.status == PaymentStatus.EXPIRED and payment.quote.status == QuoteStatus.SUPERSEDED
    assert state(db, request_id) == "quoted"
    # The buyer accepts the new quote and pays the new amount.
    response = buyer.accept(version=2)
    new_session = response.headers["Location"].rsplit("/", 1)[1]
    assert fake_stripe.sessions[new_session]["amount_total"] == 18000
    send(buyer.client, fake_stripe, "checkout.session.completed", fake_stripe.pay(new_session))
    assert licences(db, request_id)[0].fee_minor == 18000


def test_paying_again_before_the_webhook_finds_the_payment_instead_of_charging_twice(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    fake_stripe.pay(session_id)  # paid; the buyer closed the tab before coming back
    response = buyer.post("pay")  # the status page still offers "Continue to payment"
    assert response.status_code == 409
    assert "nothing more to pay" in response.get_data(as_text=True)
    assert state(db, request_id) == "licensed"
    assert len(fake_stripe.sessions) == 1 and len(payments(db, request_id)) == 1


def test_a_payment_that_is_clearing_is_not_asked_for_again(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    fake_stripe.pay(session_id, asynchronous=True)
    page = buyer.client.get(f"{buyer.url}/payment").get_data(as_text=True)
    assert "clearing with your bank" in page and 'http-equiv="refresh"' not in page
    assert payments(db, request_id)[0].status == PaymentStatus.PROCESSING
    assert "clearing with your bank" in buyer.page().get_data(as_text=True)
    response = buyer.post("pay")
    assert response.status_code == 409 and len(fake_stripe.sessions) == 1
    send(buyer.client, fake_stripe, "checkout.session.async_payment_succeeded",
         fake_stripe.succeed_async(session_id))
    assert state(db, request_id) == "licensed"


def test_an_expired_checkout_can_be_started_again(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    send(buyer.client, fake_stripe, "checkout.session.expired", fake_stripe.expire(session_id))
    assert payments(db, request_id)[0].status == PaymentStatus.EXPIRED
    assert state(db, request_id) == "awaiting_payment"
    assert "Pay £250.00" in buyer.page().get_data(as_text=True)
    again = buyer.post("pay")
    assert again.status_code == 303
    second = again.headers["Location"].rsplit("/", 1)[1]
    assert second != session_id and fake_stripe.sessions[second]["status"] == "open"
    assert [p.attempt for p in payments(db, request_id)] == [1, 2]
    # Pressing "Continue to payment" again goes back to the same open checkout.
    assert buyer.post("pay").headers["Location"].endswith(second)
    send(buyer.client, fake_stripe, "checkout.session.completed", fake_stripe.pay(second))
    assert state(db, request_id) == "licensed"


def test_an_asynchronous_payment_is_confirmed_only_when_it_clears(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    send(buyer.client, fake_stripe, "checkout.session.completed",
         fake_stripe.pay(session_id, asynchronous=True))
    assert payments(db, request_id)[0].status == PaymentStatus.PROCESSING
    assert state(db, request_id) == "awaiting_payment"
    send(buyer.client, fake_stripe, "checkout.session.async_payment_succeeded",
         fake_stripe.succeed_async(session_id))
    assert state(db, request_id) == "licensed"


def test_an_asynchronous_payment_that_fails_tells_the_buyer_to_try_again(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    fake_stripe.pay(session_id, asynchronous=True)
    send(buyer.client, fake_stripe, "checkout.session.async_payment_failed",
         fake_stripe.fail_async(session_id))
    assert payments(db, request_id)[0].status == PaymentStatus.FAILED
    assert state(db, request_id) == "awaiting_payment" and licences(db, request_id) == []
    assert "payment failed" in mails_to(db, BUYER)[-1].subject
    assert "did not go through" in buyer.page().get_data(as_text=True)


def test_staff_refund_part_then_all_and_a_full_refund_revokes_the_licence(
        app: Flask, db: Session, client: FlaskClient, fake_stripe: FakeStripe,
        staff_login: StaffLogin) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    send(buyer.client, fake_stripe, "checkout.session.completed", fake_stripe.pay(session_id))
    staff_login(StaffRole.LICENSING)
    (payment,) = payments(db, request_id)
    page_url = f"/staff/requests/{payment.request.reference}"

    def refund(amount: str, key: str | None = None):
        return client.post(f"{page_url}/refund", data={
            "csrf_token": page_csrf_token(client, page_url), "payment_id": payment.id,
            "amount": amount, "reason": "Goodwill", "key": key or secrets.token_hex(10)})

    assert refund("300.00").status_code == 422  # more than was paid
    # The same form sent twice (a double click) refunds once.
    assert refund("50.00", key="same-form-key-123").status_code == 303
    assert refund("50.00", key="same-form-key-123").status_code == 303
    assert len(fake_stripe.refunds) == 1
    (payment,) = payments(db, request_id)
    assert (payment.status, payment.refunded_minor) == (PaymentStatus.PARTIALLY_REFUNDED, 5000)
    assert licences(db, request_id)[0].status == LicenceStatus.ACTIVE
    assert refund("200.00").status_code == 303
    (payment,) = payments(db, request_id)
    assert (payment.status, payment.refunded_minor) == (PaymentStatus.REFUNDED, 25000)
    assert licences(db, request_id)[0].status == LicenceStatus.REVOKED
    # Stripe's charge.refunded events arriving afterwards change nothing more.
    charge_id = fake_stripe.payment_intents[payment.payment_intent_id]["latest_charge"]
    before = footprint(db)
    send(buyer.client, fake_stripe, "charge.refunded", fake_stripe.charges[charge_id])
    assert footprint(db) == before
    assert "revoked" in buyer.page().get_data(as_text=True)


def test_a_refund_made_in_stripes_dashboard_reaches_the_portal_by_webhook(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    session = fake_stripe.pay(session_id)
    fake_stripe.refund(session["payment_intent"])
    charge_id = fake_stripe.payment_intents[session["payment_intent"]]["latest_charge"]
    # The refund's event arrives before the checkout's: the outcome is the same.
    send(buyer.client, fake_stripe, "charge.refunded", fake_stripe.charges[charge_id])
    send(buyer.client, fake_stripe, "checkout.session.completed", session)
    (payment,) = payments(db, request_id)
    assert payment.status == PaymentStatus.REFUNDED
    assert licences(db, request_id)[0].status == LicenceStatus.REVOKED


def test_stripe_failing_at_checkout_leaves_the_quote_as_it_was(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    fake_stripe.fail_next("POST", "/v1/checkout/sessions", status=500, count=1)
    before = footprint(db)
    response = buyer.accept()
    assert response.status_code == 503
    assert "try again" in response.get_data(as_text=True)
    assert footprint(db) == before
    assert state(db, request_id) == "quoted"
    # Trying again works. Stripe keeps a failure under its idempotency key for a day, so
    # the new try carries a new key.
    again = buyer.accept()
    assert again.status_code == 303 and state(db, request_id) == "awaiting_payment"
    keys = [r["headers"]["Idempotency-Key"] for r in fake_stripe.requests
            if r["path"] == "/v1/checkout/sessions"]
    assert len(keys) == 2 and keys[0] != keys[1]
    assert all("-q1-a1-" in key for key in keys)


def test_a_webhook_arriving_while_stripe_is_down_asks_for_a_retry(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    event = fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id))
    fake_stripe.fail_next("GET", f"/v1/checkout/sessions/{session_id}", status=503)
    failed = post_event(buyer.client, fake_stripe, event)
    assert failed.status_code == 503 and count(db, ProviderEvent) == 0
    assert state(db, request_id) == "awaiting_payment"
    assert post_event(buyer.client, fake_stripe, event).status_code == 200
    assert state(db, request_id) == "licensed"


def test_reconcile_applies_what_stripe_knows_when_webhooks_were_missed(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    paid_id, _buyer, paid_session = checkout(app, db, fake_stripe)
    expired_id, _other, expired_session = checkout(app, db, fake_stripe)
    fake_stripe.pay(paid_session)
    fake_stripe.expire(expired_session)
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "Checking 2 payments" in result.output and "2 changed" in result.output
    assert state(db, paid_id) == "licensed"
    assert payments(db, expired_id)[0].status == PaymentStatus.EXPIRED
    again = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert "Checking 0 payments" in again.output


def test_concurrent_deliveries_of_one_event_have_one_effect(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    session = fake_stripe.pay(session_id)
    events = [fake_stripe.event("checkout.session.completed", session)] * 3 + [
        fake_stripe.event("checkout.session.async_payment_succeeded", session)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(events))

    def deliver(event: dict[str, object]) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(post_event(client, fake_stripe, event).status_code)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(events)
    assert len(licences(db, request_id)) == 1 and state(db, request_id) == "licensed"
    assert count(db, ProviderEvent) == 2
    licence_mails = [m for m in mails_to(db, BUYER) if "licence" in m.subject
                     and "issued" in m.subject]
    assert len(licence_mails) == 1


@pytest.mark.parametrize("body", [
    b"[]", b"null", b'"evt"', b"{}", b'{"id": "evt_1", "object": "event"}',
    b'{"id": "evt_1", "type": ["a"], "data": {"object": {"id": "cs_1"}}}',
    b'{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {}}}',
    b'{"id": "' + b"e" * 300 + b'", "type": "checkout.session.completed", '
    b'"data": {"object": {"id": "cs_1"}}}',
    b"\xff\xfe not json",
])
def test_a_signed_body_that_is_not_an_event_is_refused_without_an_error(
        client: FlaskClient, db: Session, fake_stripe: FakeStripe, body: bytes) -> None:
    response = client.post("/webhooks/stripe", data=body, content_type="application/json",
                           headers={"Stripe-Signature": fake_stripe.sign(body)})
    assert response.status_code == 400
    assert count(db, ProviderEvent) == 0


def test_events_the_portal_does_not_act_on_are_acknowledged(
        client: FlaskClient, db: Session, fake_stripe: FakeStripe) -> None:
    # balance.available's object has no id; a refund event for a charge Stripe does not know
    assert send(client, fake_stripe, "balance.available",
                {"object": "balance"}).json["outcome"] == "ignored"
    assert send(client, fake_stripe, "charge.refunded",
                {"id": "ch_missing", "object": "charge"}).json["outcome"] == (
        "its object is unknown to Stripe")
    assert count(db, ProviderEvent) == 2


def test_a_dispute_is_matched_to_its_own_payment_only(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    """Another portal on the same Stripe account numbers its payments the same way."""
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    send(buyer.client, fake_stripe, "checkout.session.completed", fake_stripe.pay(session_id))
    (payment,) = payments(db, request_id)
    stranger = fake_stripe._create_session({
        "mode": "payment", "success_url": "https://other.example/ok",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": "gbp", "unit_amount": 100, "product_data": {"name": "x"}}}],
        "payment_intent_data": {"metadata": {"payment_id": str(payment.id),
                                             "request": "RR-1999-00001"}}})
    dispute = fake_stripe.open_dispute(fake_stripe.pay(stranger["id"])["payment_intent"])
    response = send(buyer.client, fake_stripe, "charge.dispute.created", dispute)
    assert response.json["outcome"] == "not a payment of this portal"
    assert licences(db, request_id)[0].status == LicenceStatus.ACTIVE


def test_no_status_token_is_kept_with_payments(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    send(buyer.client, fake_stripe, "checkout.session.completed", fake_stripe.pay(session_id))
    db.expire_all()
    with db.get_bind().connect() as connection:
        for table in ("payments", "demo_checkouts", "provider_events", "licences"):
            rows = connection.exec_driver_sql(f"SELECT * FROM {table}").fetchall()
            assert buyer.token not in repr(rows), table


def test_a_double_click_on_pay_starts_one_checkout(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    send(buyer.client, fake_stripe, "checkout.session.expired", fake_stripe.expire(session_id))
    token = buyer.csrf()
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def click() -> None:
        client = app.test_client()
        # the buyer's own session
        with client.session_transaction() as browser_session, \
                buyer.client.session_transaction() as original:
            browser_session.update(original)
        barrier.wait()
        statuses.append(client.post(f"{buyer.url}/pay", data={"csrf_token": token})
                        .status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) in ([303, 303], [303, 409]), statuses
    open_payments = [p for p in payments(db, request_id) if p.status == PaymentStatus.OPEN]
    assert len(open_payments) == 1


def test_the_stripe_webhook_is_the_only_post_without_csrf(app: Flask) -> None:
    from portal.extensions import csrf

    assert csrf._exempt_views == {"portal.webhooks.views.stripe_webhook"}
    assert not csrf._exempt_blueprints
    # and every other POST route refuses a form without its token
    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint != "webhooks.stripe_webhook":
            url = rule.rule
            for argument in rule.arguments:
                url = url.replace(f"<{argument}>", "x" * 43).replace(
                    f"<path:{argument}>", "x")
            assert client.post(url, data={}).status_code in (400, 404), url


@pytest.mark.parametrize("key", [
    "x", "%00", "../../admin", "a" * 65, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "'; drop table--",
    "%F0%9F%92%B3" * 8, "a%2Fb" * 6,
])
@pytest.mark.parametrize("page", ["return", "cancelled"])
def test_return_addresses_with_a_wrong_key_are_refused(
        app: Flask, db: Session, fake_stripe: FakeStripe, key: str, page: str) -> None:
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    before = footprint(db)
    response = buyer.client.get(f"/payments/{key}/{page}")
    # (a NUL byte in an address is refused as a bad request before routing)
    assert response.status_code == (400 if key == "%00" else 404)
    assert buyer.token not in response.get_data(as_text=True)
    assert footprint(db) == before and state(db, request_id) == "awaiting_payment"


def test_return_addresses_from_another_browser_show_no_private_page(
        app: Flask, db: Session, fake_stripe: FakeStripe) -> None:
    """The right key, but a browser that did not start the checkout: the page says where
    the payment stands and never leads to (or names) the status page."""
    request_id, buyer, session_id = checkout(app, db, fake_stripe)
    success_url = fake_stripe.session_params[session_id]["success_url"]
    cancel_url = fake_stripe.session_params[session_id]["cancel_url"]
    stranger = app.test_client()
    for url in (success_url, cancel_url):
        response = stranger.get(url.removeprefix(app.config["BASE_URL"]))
        body = response.get_data(as_text=True)
        assert response.status_code == 200, body
        assert buyer.token not in body and "/requests/" not in body and BUYER not in body
        assert response.headers["Cache-Control"] == "no-store"
    # The buyer's own browser goes back to its status page.
    back = buyer.client.get(cancel_url.removeprefix(app.config["BASE_URL"]))
    assert back.status_code == 303 and back.headers["Location"].endswith(buyer.url)
    assert state(db, request_id) == "awaiting_payment"
