"""The fake Stripe API (tests/fake_stripe.py), driven by the real stripe-python client over HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from tests.fake_stripe import HOLD_TIMEOUT, FakeStripe


@pytest.fixture
def client(fake_stripe: FakeStripe) -> stripe.StripeClient:  # noqa: F811
    return stripe.StripeClient(fake_stripe.api_key, base_addresses={"api": fake_stripe.base_url},
                               max_network_retries=0)


def session_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://portal.example/paid?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://portal.example/quote/3",
        "client_reference_id": "quote-3",
        "customer_email": "editor@paper.example",
        "line_items": [
            {"quantity": 2, "price_data": {"currency": "EUR", "unit_amount": 5000,
                                           "product_data": {"name": "Republication licence"}}},
            {"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 1500,
                                           "product_data": {"name": "Photo licence", "metadata": {"photo": "7"}}}},
        ],
        "metadata": {"quote_id": "3"},
    }
    params.update(overrides)
    return params


def create(client: stripe.StripeClient, **overrides: Any) -> Any:
    return client.v1.checkout.sessions.create(params=session_params(**overrides))


def paid_intent(fake: FakeStripe, client: stripe.StripeClient, **pay: Any) -> str:
    session = create(client)
    return fake.pay(session.id, **pay)["payment_intent"]


# ------------------------------------------------------------------ checkout sessions


def test_create_and_retrieve_session(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    before = int(time.time())
    session = client.v1.checkout.sessions.create(
        params=session_params(tax_id_collection={"enabled": True},
                              invoice_creation={"enabled": True, "invoice_data": {"footer": "Thanks"}}),
        options={"idempotency_key": "quote-3-attempt-1"},
    )
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.id}"  # Stripe's hosted page
    assert (session.amount_total, session.amount_subtotal, session.currency) == (11500, 11500, "eur")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert session.metadata.to_dict() == {"quote_id": "3"}
    assert (session.client_reference_id, session.customer_email) == ("quote-3", "editor@paper.example")
    assert session.customer_details is None and session.payment_intent is None and session.invoice is None
    assert before + 24 * 3600 <= session.expires_at <= int(time.time()) + 24 * 3600
    assert session.livemode is False
    assert session.tax_id_collection.enabled is True
    assert session.invoice_creation.to_dict() == {"enabled": True, "invoice_data": {"footer": "Thanks"}}

    request = fake_stripe.requests[-1]
    assert (request["method"], request["path"]) == ("POST", "/v1/checkout/sessions")
    assert request["headers"]["Idempotency-Key"] == "quote-3-attempt-1"
    assert request["params"]["line_items"][0]["price_data"]["unit_amount"] == "5000"  # as sent on the wire
    assert request["params"]["metadata"] == {"quote_id": "3"}
    assert fake_stripe.session_params[session.id]["line_items"][0]["quantity"] == 2  # as the fake read it

    again = client.v1.checkout.sessions.retrieve(session.id)
    assert again.to_dict() == session.to_dict()


def test_expand_payment_intent_and_latest_charge(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    session = create(client)
    fake_stripe.pay(session.id)
    plain = client.v1.checkout.sessions.retrieve(session.id)
    assert plain.payment_intent.startswith("pi_")
    assert (plain.status, plain.payment_status, plain.url) == ("complete", "paid", None)
    assert plain.customer_details.email == "editor@paper.example"

    expanded = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent", "payment_intent.latest_charge"]})
    intent = expanded.payment_intent
    assert (intent.id, intent.status, intent.amount, intent.currency) == (plain.payment_intent, "succeeded", 11500,
                                                                          "eur")
    charge = intent.latest_charge
    assert (charge.object, charge.paid, charge.status, charge.amount_refunded) == ("charge", True, "succeeded", 0)
    assert fake_stripe.requests[-1]["params"] == {"expand": ["payment_intent", "payment_intent.latest_charge"]}

    alone = client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert alone.latest_charge.id == charge.id
    assert client.v1.charges.retrieve(charge.id).payment_intent == intent.id

    with pytest.raises(stripe.InvalidRequestError, match=r"cannot be expanded \(customer_email\)"):
        client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["customer_email"]})


def test_expire_session(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    session = create(client)
    expired = client.v1.checkout.sessions.expire(session.id)
    assert (expired.status, expired.url) == ("expired", None)
    with pytest.raises(stripe.InvalidRequestError, match=r'status in \["open"\] can be expired') as raised:
        client.v1.checkout.sessions.expire(session.id)
    assert raised.value.http_status == 400
    with pytest.raises(ValueError, match="cannot be paid"):
        fake_stripe.pay(session.id)

    other = create(client)
    fake_stripe.expire(other.id)
    assert client.v1.checkout.sessions.retrieve(other.id).status == "expired"


def test_unknown_parameters_are_named(client: stripe.StripeClient) -> None:
    items = session_params()["line_items"]
    items[0]["foo"] = "bar"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        create(client, line_items=items)
    assert raised.value.param == "line_items[0][foo]"
    assert raised.value.user_message == "Received unknown parameter: line_items[0][foo]"
    assert raised.value.code == "parameter_unknown"

    items = session_params()["line_items"]
    items[1]["price_data"]["product_data"]["colour"] = "red"
    with pytest.raises(stripe.InvalidRequestError, match=r"line_items\[1\]\[price_data\]\[product_data\]\[colour\]"):
        create(client, line_items=items)
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: metdata"):
        create(client, metdata={"quote_id": "3"})
    with pytest.raises(stripe.InvalidRequestError, match=r"unknown parameter: tax_id_collection\[on\]"):
        create(client, tax_id_collection={"on": True})


@pytest.mark.parametrize(("overrides", "param", "message"), [
    ({"mode": None}, "mode", "Missing required param: mode"),
    ({"success_url": None}, "success_url", "Missing required param: success_url"),
    ({"line_items": None}, "line_items", "required in payment mode"),
    ({"expires_at": int(time.time()) + 29 * 60}, "expires_at", "at least 30 minutes"),
    ({"expires_at": int(time.time()) + 25 * 3600}, "expires_at", "less than 24 hours"),
    ({"line_items": [{"quantity": 1, "price_data": {"currency": "eur", "product_data": {"name": "x"}}}]},
     "line_items[0][price_data][unit_amount]", "Missing required param"),
    ({"line_items": [{"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 0,
                                                     "product_data": {"name": "x"}}}]},
     "line_items[0][price_data][unit_amount]", "greater than 0"),
    ({"line_items": [{"quantity": 1, "price_data": {"currency": "eur", "unit_amount": "12.50",
                                                     "product_data": {"name": "x"}}}]},
     "line_items[0][price_data][unit_amount]", "Invalid integer: 12.50"),
    ({"line_items": [{"quantity": 1, "price_data": {"unit_amount": 100, "product_data": {"name": "x"}}}]},
     "line_items[0][price_data][currency]", "Missing required param"),
    ({"line_items": [{"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 100, "product_data": {}}}]},
     "line_items[0][price_data][product_data]", "Missing required param"),
    ({"line_items": [{"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 100,
                                                     "product_data": {"name": "x"}}},
                     {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 100,
                                                     "product_data": {"name": "y"}}}]},
     "line_items[1][price_data][currency]", "same currency"),
    ({"tax_id_collection": {"enabled": "yes"}}, "tax_id_collection[enabled]", "Invalid boolean: yes"),
    ({"success_url": "/paid"}, "success_url", "Not a valid URL"),
    ({"customer_email": "editor"}, "customer_email", "Invalid email address"),
    ({"metadata": {"quote_id": "x" * 501}}, "metadata[quote_id]", "up to 500 characters"),
    ({"client_reference_id": ""}, "client_reference_id", "empty string"),
])
def test_session_validation(client: stripe.StripeClient, overrides: dict[str, Any], param: str,
                            message: str) -> None:
    with pytest.raises(stripe.InvalidRequestError, match=message) as raised:
        create(client, **overrides)
    assert raised.value.param == param
    assert raised.value.http_status == 400


def test_expires_at_within_bounds(client: stripe.StripeClient) -> None:
    expires_at = int(time.time()) + 45 * 60
    assert create(client, expires_at=expires_at).expires_at == expires_at


def test_unfaked_endpoint_is_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match=r"Unrecognized request URL \(GET: /v1/customers/cus_1\)"):
        client.v1.customers.retrieve("cus_1")


def test_missing_session_is_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (raised.value.http_status, raised.value.code, raised.value.param) == (404, "resource_missing", "session")
    assert "No such checkout.session: 'cs_test_nope'" in str(raised.value)


# ------------------------------------------------------------------ keys, failures, idempotency


def test_bad_or_missing_api_key(fake_stripe: FakeStripe) -> None:  # noqa: F811
    wrong = stripe.StripeClient("sk_test_wrong", base_addresses={"api": fake_stripe.base_url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key") as raised:
        wrong.v1.checkout.sessions.retrieve("cs_test_x")
    assert raised.value.http_status == 401

    request = urllib.request.Request(f"{fake_stripe.base_url}/v1/checkout/sessions/cs_test_x")
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request, timeout=5)
    with http_error.value as response:
        assert response.code == 401
        assert json.load(response)["error"]["type"] == "invalid_request_error"


def test_injected_500_then_retry(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    fake_stripe.fail_next("POST", "/v1/checkout/sessions")
    options: Any = {"idempotency_key": "quote-3"}
    with pytest.raises(stripe.APIError) as raised:
        client.v1.checkout.sessions.create(params=session_params(), options=options)
    assert raised.value.http_status == 500
    assert raised.value.json_body["error"]["type"] == "api_error"
    assert fake_stripe.sessions == {}

    session = client.v1.checkout.sessions.create(params=session_params(), options=options)
    assert list(fake_stripe.sessions) == [session.id]


def test_client_retries_honour_stripe_should_retry(fake_stripe: FakeStripe) -> None:  # noqa: F811
    retrying = stripe.StripeClient(fake_stripe.api_key, base_addresses={"api": fake_stripe.base_url},
                                   max_network_retries=1)
    fake_stripe.fail_next("POST", "/v1/checkout/sessions", status=503)
    session = retrying.v1.checkout.sessions.create(params=session_params())
    posts = [r for r in fake_stripe.requests if r["method"] == "POST"]
    assert len(posts) == 2 and posts[0]["headers"]["Idempotency-Key"] == posts[1]["headers"]["Idempotency-Key"]
    assert list(fake_stripe.sessions) == [session.id]

    fake_stripe.fail_next("POST", "/v1/checkout/sessions", should_retry=False)
    with pytest.raises(stripe.APIError):
        retrying.v1.checkout.sessions.create(params=session_params())
    assert len([r for r in fake_stripe.requests if r["method"] == "POST"]) == 3


def test_idempotent_replay(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    options: Any = {"idempotency_key": "quote-3-v1"}
    first = client.v1.checkout.sessions.create(params=session_params(), options=options)
    second = client.v1.checkout.sessions.create(params=session_params(), options=options)
    assert second.id == first.id
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(fake_stripe.sessions) == 1

    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        client.v1.checkout.sessions.create(params=session_params(client_reference_id="other"), options=options)

    # a stored business error is replayed too; a parameter error is not stored
    client.v1.checkout.sessions.expire(first.id)
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError, match="can be expired"):
            client.v1.checkout.sessions.expire(first.id, options={"idempotency_key": "expire-1"})
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter"):
        create(client, bogus="1")


# ------------------------------------------------------------------ payments, refunds, disputes


def test_asynchronous_payment(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    session = create(client)
    paid = fake_stripe.pay(session.id, asynchronous=True)
    assert (paid["status"], paid["payment_status"]) == ("complete", "unpaid")
    intent = client.v1.payment_intents.retrieve(paid["payment_intent"], params={"expand": ["latest_charge"]})
    assert (intent.status, intent.latest_charge.status) == ("processing", "pending")
    with pytest.raises(stripe.InvalidRequestError, match="not been paid"):
        client.v1.refunds.create(params={"payment_intent": intent.id})

    fake_stripe.succeed_async(session.id)
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"

    failing = create(client)
    fake_stripe.pay(failing.id, asynchronous=True)
    fake_stripe.fail_async(failing.id)
    retrieved = client.v1.checkout.sessions.retrieve(failing.id, params={"expand": ["payment_intent.latest_charge"]})
    assert retrieved.payment_status == "unpaid"
    assert retrieved.payment_intent.status == "requires_payment_method"
    assert retrieved.payment_intent.latest_charge.status == "failed"


def test_pay_with_other_amount_and_currency(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    session = create(client)
    fake_stripe.pay(session.id, amount=999, currency="USD")
    retrieved = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert (retrieved.amount_total, retrieved.currency) == (999, "usd")
    assert (retrieved.payment_intent.amount, retrieved.payment_intent.currency) == (999, "usd")


def test_refunds(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    intent_id = paid_intent(fake_stripe, client)
    partial = client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 1500,
                                               "reason": "requested_by_customer", "metadata": {"quote_id": "3"}})
    assert (partial.object, partial.amount, partial.status, partial.reason) == ("refund", 1500, "succeeded",
                                                                                "requested_by_customer")
    assert partial.payment_intent == intent_id and partial.metadata.quote_id == "3"
    charge = client.v1.charges.retrieve(partial.charge)
    assert (charge.amount_refunded, charge.refunded, charge.refunds.total_count) == (1500, False, 1)

    with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded amount") as raised:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 10001})
    assert (raised.value.code, raised.value.param) == ("amount_too_large", "amount")

    rest = client.v1.refunds.create(params={"charge": charge.id})
    assert rest.amount == 10000
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (11500, True)
    assert [r.id for r in charge.refunds.data] == [rest.id, partial.id]
    assert client.v1.refunds.retrieve(rest.id).amount == 10000

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent_id})
    assert raised.value.code == "charge_already_refunded"
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: refund_reason"):
        client.v1.refunds.create(params={"payment_intent": intent_id, "refund_reason": "x"})
    with pytest.raises(stripe.InvalidRequestError, match="payment_intent or charge"):
        client.v1.refunds.create(params={"amount": 100})
    with pytest.raises(stripe.InvalidRequestError, match="No such payment_intent"):
        client.v1.refunds.create(params={"payment_intent": "pi_nope"})


def test_dashboard_refund(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    intent_id = paid_intent(fake_stripe, client)
    refund = fake_stripe.refund(intent_id, amount=500)
    assert fake_stripe.charges[refund["charge"]]["amount_refunded"] == 500
    with pytest.raises(ValueError, match="greater than unrefunded"):
        fake_stripe.refund(intent_id, amount=11001)
    assert fake_stripe.refund(intent_id)["amount"] == 11000


def test_disputes(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    intent_id = paid_intent(fake_stripe, client)
    dispute = fake_stripe.open_dispute(intent_id)
    assert dispute["id"].startswith("du_")
    retrieved = client.v1.disputes.retrieve(dispute["id"])
    assert (retrieved.status, retrieved.reason, retrieved.amount, retrieved.currency) == (
        "needs_response", "fraudulent", 11500, "eur")
    assert retrieved.payment_intent == intent_id
    assert client.v1.charges.retrieve(retrieved.charge).disputed is True
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent_id})
    assert raised.value.code == "charge_disputed"

    fake_stripe.close_dispute(dispute["id"], "lost")
    assert client.v1.disputes.retrieve(dispute["id"]).status == "lost"
    with pytest.raises(ValueError):
        fake_stripe.close_dispute(dispute["id"], "closed")


def test_reset_clears_everything(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    paid_intent(fake_stripe, client)
    fake_stripe.fail_next("GET", "/v1/")
    fake_stripe.reset()
    assert not (fake_stripe.sessions or fake_stripe.payment_intents or fake_stripe.charges or fake_stripe.requests)
    with pytest.raises(stripe.InvalidRequestError, match="No such checkout.session"):  # not the injected 500
        client.v1.checkout.sessions.retrieve("cs_test_gone")


def test_hosted_page_address_can_change(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    fake_stripe.hosted_base = "https://hosted.example"
    assert create(client).url.startswith("https://hosted.example/c/pay/cs_test_")
    fake_stripe.reset()
    assert create(client).url.startswith("https://checkout.stripe.com/c/pay/cs_test_")


# ------------------------------------------------------------------ faults: slow answers, lost connections, gates


@pytest.fixture
def quick(fake_stripe: FakeStripe) -> Iterator[stripe.StripeClient]:  # noqa: F811
    """A client that gives up after one second and never retries (a hang shows as a timeout)."""
    http = stripe.RequestsClient(timeout=1)
    yield stripe.StripeClient(fake_stripe.api_key, base_addresses={"api": fake_stripe.base_url},
                              max_network_retries=0, http_client=http)
    http.close()


class Call:
    """One Stripe call running in a thread of its own: its result or error, and its timing."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        started = time.monotonic()
        try:
            self.result = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by join()
            self.error = exc
        self.seconds = time.monotonic() - started

    def join(self, timeout: float = 5) -> Call:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the call did not finish"
        return self


def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.fixture(params=[False, pytest.param(True, marks=pytest.mark.timing)],
                ids=["behaviour", "against the clock"])
def against_the_clock(request: pytest.FixtureRequest) -> bool:
    """True in the copy of a test that also holds the fake to sub-second figures (marked
    `timing`: make bench runs it, make test does not). Both copies check what happens and in
    what order."""
    return bool(request.param)


def test_hang_times_out_while_other_calls_are_served(
        fake_stripe: FakeStripe, quick: stripe.StripeClient,  # noqa: F811
        against_the_clock: bool) -> None:
    other = create(quick)
    fake_stripe.hang_next("POST", "/v1/checkout/sessions", 1.5)
    hung = Call(lambda: create(quick))
    wait_for(lambda: fake_stripe.requests[-1].get("fault") == "hang")

    # While the create hangs, the fake answers everything else at once (its lock is free):
    # both are answered before the hung create is handled.
    again, retrieve_took = timed(lambda: quick.v1.checkout.sessions.retrieve(other.id))
    assert again.id == other.id
    _, pay_took = timed(lambda: fake_stripe.pay(other.id))
    assert list(fake_stripe.sessions) == [other.id], "answered only after the hang"
    if against_the_clock:
        assert retrieve_took < 0.5 and pay_took < 0.5

    hung.join()
    assert isinstance(hung.error, stripe.APIConnectionError), hung.error
    assert "ReadTimeout" in str(hung.error) and hung.seconds >= 0.9
    if against_the_clock:
        assert hung.seconds < 2
    assert list(fake_stripe.sessions) == [other.id]  # not handled yet...
    wait_for(lambda: len(fake_stripe.sessions) == 2)  # ...Stripe did it late, after the client gave up


def test_short_hang_is_only_slow(fake_stripe: FakeStripe, quick: stripe.StripeClient,  # noqa: F811
                                 against_the_clock: bool) -> None:
    fake_stripe.hang_next("POST", "/v1/checkout/sessions", 0.3)
    session, seconds = timed(lambda: create(quick))
    assert seconds >= 0.3 and list(fake_stripe.sessions) == [session.id]
    if against_the_clock:
        assert seconds < 1
    _, seconds = timed(lambda: create(quick))  # count=1: the next one is not slowed
    assert "fault" not in fake_stripe.requests[-1]
    if against_the_clock:
        assert seconds < 0.3


def test_hang_after_handling(fake_stripe: FakeStripe, quick: stripe.StripeClient) -> None:  # noqa: F811
    fake_stripe.hang_next("POST", "/v1/checkout/sessions", 3, after_handling=True)
    options: Any = {"idempotency_key": "quote-3-a1"}
    with pytest.raises(stripe.APIConnectionError, match="ReadTimeout"):
        quick.v1.checkout.sessions.create(params=session_params(), options=options)
    (created,) = fake_stripe.sessions  # Stripe made the session; its answer never came
    # the retry with the same key gets that session back, not a second one
    retried = quick.v1.checkout.sessions.create(params=session_params(), options=options)
    assert retried.id == created and retried.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(fake_stripe.sessions) == 1


def test_drop_closes_the_connection_without_an_answer(fake_stripe: FakeStripe, quick: stripe.StripeClient
                                                      ) -> None:  # noqa: F811
    fake_stripe.drop_next("POST", "/v1/checkout/sessions", count=2)
    for _ in range(2):
        with pytest.raises(stripe.APIConnectionError, match="RemoteDisconnected|Connection aborted") as raised:
            create(quick)
        assert raised.value.http_status is None  # no HTTP answer at all, not a 5xx
    assert fake_stripe.sessions == {}
    assert [r.get("fault") for r in fake_stripe.requests] == ["drop", "drop"]
    assert create(quick).id in fake_stripe.sessions  # the third goes through


def test_drop_after_handling_keeps_the_object(fake_stripe: FakeStripe, quick: stripe.StripeClient
                                              ) -> None:  # noqa: F811
    fake_stripe.drop_next("POST", "/v1/checkout/sessions", after_handling=True)
    options: Any = {"idempotency_key": "quote-3-a2"}
    with pytest.raises(stripe.APIConnectionError):
        quick.v1.checkout.sessions.create(params=session_params(), options=options)
    (created,) = fake_stripe.sessions
    assert fake_stripe.sessions[created]["status"] == "open"
    assert quick.v1.checkout.sessions.create(params=session_params(), options=options).id == created

    session = create(quick)
    fake_stripe.drop_next("POST", f"/v1/checkout/sessions/{session.id}/expire", after_handling=True)
    with pytest.raises(stripe.APIConnectionError):
        quick.v1.checkout.sessions.expire(session.id)
    assert fake_stripe.sessions[session.id]["status"] == "expired"


def test_hold_until_released(fake_stripe: FakeStripe, quick: stripe.StripeClient) -> None:  # noqa: F811
    other = create(quick)
    gate = fake_stripe.hold("POST", "/v1/checkout/sessions")
    held = Call(lambda: create(quick, client_reference_id="held"))
    assert gate.arrived.wait(5)
    # Held: nothing made yet, and everything else is served meanwhile (the next create too:
    # a gate holds one request).
    assert list(fake_stripe.sessions) == [other.id]
    assert quick.v1.checkout.sessions.retrieve(other.id).id == other.id
    fake_stripe.pay(other.id)
    later = create(quick, client_reference_id="later")
    assert not gate.answered.is_set()

    gate.release()
    assert gate.answered.wait(5)
    held.join()
    assert held.error is None, held.error
    assert list(fake_stripe.sessions) == [other.id, later.id, held.result.id]  # made after "later"
    assert fake_stripe.sessions[held.result.id]["client_reference_id"] == "held"


def test_forgotten_gate_gives_up(fake_stripe: FakeStripe, quick: stripe.StripeClient) -> None:  # noqa: F811
    gate = fake_stripe.hold("GET", "/v1/checkout/sessions/", timeout=0.3)
    with pytest.raises(stripe.APIError, match="never released") as raised:
        quick.v1.checkout.sessions.retrieve("cs_test_x")
    assert raised.value.http_status == 500 and gate.timed_out and gate.answered.is_set()


def test_reset_clears_faults_and_lets_held_requests_go(
        fake_stripe: FakeStripe, quick: stripe.StripeClient,  # noqa: F811
        against_the_clock: bool) -> None:
    gate = fake_stripe.hold("POST", "/v1/checkout/sessions")
    held = Call(lambda: create(quick))
    assert gate.arrived.wait(5)
    fake_stripe.hang_next("GET", "/v1/", 10)
    fake_stripe.drop_next("POST", "/v1/")

    fake_stripe.reset()
    assert gate.answered.wait(1)
    held.join()
    # dropped unhandled: the test that reset sees nothing made by the last one's requests
    assert isinstance(held.error, stripe.APIConnectionError)
    assert held.seconds < HOLD_TIMEOUT, "let go by reset(), not by the gate's own timeout"
    assert fake_stripe.sessions == {}
    session, seconds = timed(lambda: create(quick))  # no hang, no drop left
    assert quick.v1.checkout.sessions.retrieve(session.id).id == session.id
    assert not any("fault" in request for request in fake_stripe.requests[-2:])
    if against_the_clock:
        assert held.seconds < 1 and seconds < 0.5


# ------------------------------------------------------------------ webhooks


def test_signed_events(fake_stripe: FakeStripe, client: stripe.StripeClient) -> None:  # noqa: F811
    session = create(client)
    fake_stripe.pay(session.id)
    event = fake_stripe.event("checkout.session.completed", fake_stripe.sessions[session.id], event_id="evt_1")
    fake_stripe.refund(fake_stripe.sessions[session.id]["payment_intent"])  # the event is a snapshot
    assert event["data"]["object"]["payment_status"] == "paid"
    assert (event["id"], event["object"], event["livemode"], event["pending_webhooks"]) == ("evt_1", "event",
                                                                                            False, 1)

    payload = json.dumps(event).encode()
    header = fake_stripe.sign(payload)
    assert header.startswith("t=") and ",v1=" in header
    constructed = stripe.Webhook.construct_event(payload, header, fake_stripe.webhook_secret)
    assert constructed.type == "checkout.session.completed"
    assert constructed.data.object.id == session.id

    with pytest.raises(stripe.SignatureVerificationError, match="No signatures found matching"):
        stripe.Webhook.construct_event(payload.replace(b'"paid"', b'"unpaid"'), header, fake_stripe.webhook_secret)
    with pytest.raises(stripe.SignatureVerificationError, match="No signatures found matching"):
        stripe.Webhook.construct_event(payload, fake_stripe.sign(payload, secret="whsec_other"),
                                       fake_stripe.webhook_secret)
    old = fake_stripe.sign(payload, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance zone"):
        stripe.Webhook.construct_event(payload, old, fake_stripe.webhook_secret)
    recent = fake_stripe.sign(payload, timestamp=int(time.time()) - 200)
    assert stripe.Webhook.construct_event(payload, recent, fake_stripe.webhook_secret).id == "evt_1"
